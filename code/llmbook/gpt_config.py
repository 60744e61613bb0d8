"""The hyper-parameters of the book's GPT: :class:`GPTConfig` (sections 5.3 and 5.7).

The first group of fields is GPT-2's architecture (section 5.3). The second group are the
changes that later models made, each an *option* whose default keeps GPT-2's behaviour, so
an old configuration (or checkpoint, whose stored config lacks these fields) builds exactly
the model it always did. Section 5.7 turns them on one at a time:

======================  ====================  ==============================================
field                   default (GPT-2)       option (modern)
======================  ====================  ==============================================
``norm``                ``"layernorm"``       ``"rmsnorm"`` (Zhang & Sennrich 2019)
``position``            ``"learned"``         ``"rope"``: rotary embeddings (Su et al. 2021)
``mlp``                 ``"gelu"``            ``"relu2"`` (So et al. 2021), ``"swiglu"``
                                              (Shazeer 2020)
``qk_norm``             ``False``             ``True``: RMSNorm on queries and keys
``n_kv_head``           ``None`` (= n_head)   fewer key/value heads: GQA (Ainslie et al. 2023)
``zero_init_proj``      ``False``             ``True``: the output projections start at zero
``logit_softcap``       ``None``              ``c``: logits ``c tanh(z / c)``
``tie_embeddings``      ``True``              ``False``: a separate output matrix
======================  ====================  ==============================================

The components themselves live in :mod:`llmbook.modern`; :class:`GPTConfig` is re-exported
by :mod:`llmbook.gpt`, where it is normally imported from.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["GPTConfig", "NORMS", "POSITIONS", "MLPS"]

#: The allowed values of the options that name a component.
NORMS = ("layernorm", "rmsnorm")
POSITIONS = ("learned", "rope")
MLPS = ("gelu", "relu2", "swiglu")


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"GPTConfig.{name} must be one of {', '.join(map(repr, allowed))}, "
                         f"got {value!r}.")


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"GPTConfig.{name} must be an int, got {value!r}.")
    if value < 1:
        raise ValueError(f"GPTConfig.{name} must be at least 1, got {value}.")


@dataclass
class GPTConfig:
    """Hyper-parameters of a :class:`~llmbook.gpt.GPT` (defaults: a small character-level
    GPT-2).

    ``block_size`` is the longest context the model sees (number of position embeddings);
    ``n_embd`` must be divisible by ``n_head``. ``activation`` is ``"gelu_tanh"`` (GPT-2's
    ``gelu_new``) or ``"gelu"`` (exact), for ``mlp="gelu"``. ``layer_norm_eps`` is the
    epsilon of whichever norm ``norm`` picks. ``bias`` puts biases in every linear layer
    and LayerNorm (Llama-style models have none).

    The options of section 5.7 (see the module docstring): ``norm``, ``position`` (with
    ``rope_theta``, the base of the rotary frequencies), ``mlp`` (with ``mlp_hidden``, the
    hidden width: ``None`` means ``4 n_embd`` for ``"gelu"`` and ``"relu2"`` and
    ``8 n_embd // 3`` for ``"swiglu"``, whose three matrices then hold as many weights as
    the two of the others), ``qk_norm``, ``n_kv_head`` (``None``: one key/value head per
    query head; it must divide ``n_head``), ``zero_init_proj``, ``logit_softcap`` (``None``
    or a positive float) and ``tie_embeddings``.
    """

    vocab_size: int = 70
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    layer_norm_eps: float = 1e-5
    activation: str = "gelu_tanh"
    causal: bool = True
    # -- the options of section 5.7; the defaults are GPT-2's --
    norm: str = "layernorm"
    position: str = "learned"
    rope_theta: float = 10000.0
    mlp: str = "gelu"
    mlp_hidden: int | None = None
    qk_norm: bool = False
    n_kv_head: int | None = None
    zero_init_proj: bool = False
    logit_softcap: float | None = None
    tie_embeddings: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            _positive_int(name, getattr(self, name))
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head "
                             f"({self.n_head}): each head gets n_embd // n_head dimensions.")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1), got {self.dropout!r}.")
        if self.activation not in ("gelu_tanh", "gelu"):
            raise ValueError(f"activation must be 'gelu_tanh' or 'gelu', got "
                             f"{self.activation!r}.")
        self._check_options()

    def _check_options(self) -> None:
        _choice("norm", self.norm, NORMS)
        _choice("position", self.position, POSITIONS)
        _choice("mlp", self.mlp, MLPS)
        for name in ("bias", "causal", "qk_norm", "zero_init_proj", "tie_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"GPTConfig.{name} must be True or False, got "
                                f"{getattr(self, name)!r}.")
        if self.position == "rope" and self.head_dim % 2:
            raise ValueError(f"position='rope' rotates pairs of dimensions: the head size "
                             f"n_embd // n_head = {self.head_dim} must be even.")
        if isinstance(self.rope_theta, bool) or not isinstance(self.rope_theta, (int, float)) \
                or not self.rope_theta > 1:
            raise ValueError(f"rope_theta must be a number > 1, got {self.rope_theta!r}.")
        if self.mlp_hidden is not None:
            _positive_int("mlp_hidden", self.mlp_hidden)
        if self.n_kv_head is not None:
            _positive_int("n_kv_head", self.n_kv_head)
            if self.n_head % self.n_kv_head:
                raise ValueError(f"n_kv_head ({self.n_kv_head}) must divide n_head "
                                 f"({self.n_head}): each key/value head serves "
                                 f"n_head // n_kv_head query heads.")
        cap = self.logit_softcap
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, float))
                                or not math.isfinite(cap) or cap <= 0):
            raise ValueError(f"logit_softcap must be None or a positive number, got {cap!r}.")

    @property
    def head_dim(self) -> int:
        """Dimensions per attention head, ``n_embd // n_head``."""
        return self.n_embd // self.n_head

    @property
    def kv_heads(self) -> int:
        """Number of key/value heads: ``n_kv_head``, or ``n_head`` when it is ``None``."""
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @property
    def hidden_size(self) -> int:
        """Width of the MLP's hidden layer (see ``mlp_hidden``)."""
        if self.mlp_hidden is not None:
            return self.mlp_hidden
        return 8 * self.n_embd // 3 if self.mlp == "swiglu" else 4 * self.n_embd

    @property
    def is_gpt2(self) -> bool:
        """True when every option of section 5.7 has its GPT-2 default."""
        return all(getattr(self, name) == getattr(GPTConfig, name) for name in _OPTIONS)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a plain dict (JSON-serialisable)."""
        return asdict(self)


#: The fields added in section 5.7 (an old checkpoint's stored config has none of them).
_OPTIONS = ("norm", "position", "rope_theta", "mlp", "mlp_hidden", "qk_norm", "n_kv_head",
            "zero_init_proj", "logit_softcap", "tie_embeddings")
