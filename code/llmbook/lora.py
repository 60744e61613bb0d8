r"""Which parameters a fine-tuning run trains (section 3.5): freezing, and LoRA from scratch.

* :func:`count_parameters`, :func:`freeze_all_but` (head only, or any named modules) and
  :func:`freeze_bottom_layers` (partial fine-tuning: embeddings and layers ``0..k-1`` frozen);
* :class:`LoRALinear` -- a frozen ``nn.Linear`` plus a trainable low-rank update
  (Hu et al., 2022):

  .. math:: h = W_0 x + b + \frac{\alpha}{r} B A x, \qquad A \in \mathbb{R}^{r\times d_{in}},
            \; B \in \mathbb{R}^{d_{out}\times r},

  with ``B = 0`` at the start (so the wrapped model computes exactly what the pretrained
  one did) and ``A`` drawn as ``nn.Linear`` draws its weights, Kaiming-uniform with
  ``a = sqrt(5)`` (what ``peft`` does);
* :func:`apply_lora` -- wrap the named linear layers of a model, freeze everything else
  except ``modules_to_save`` (the new classification head); :func:`merge_lora` /
  :func:`unmerge_lora` fold ``(alpha/r) B A`` into ``W_0`` and back;
* :func:`copy_lora_to_peft` -- copy the adapters into a ``peft`` model of the same base, so
  that the two can be checked against each other.

Module names are matched as ``peft`` matches a list of ``target_modules``: a module is a
target when its full name equals a target or ends with ``"." + target``.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
import torch.nn as nn

__all__ = ["count_parameters", "freeze_all_but", "freeze_bottom_layers", "encoder_layers",
           "lora_parameter_count", "LoRALinear", "find_target_modules", "apply_lora",
           "lora_layers", "merge_lora", "unmerge_lora", "copy_lora_to_peft"]


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    return model


def _check_rank_alpha(r: object, alpha: object, dropout: object) -> tuple[int, float, float]:
    if isinstance(r, bool) or not isinstance(r, int):
        raise TypeError(f"r (the rank) must be an int, got {r!r}.")
    if r < 1:
        raise ValueError(f"r (the rank) must be at least 1, got {r}: r = 0 would add no "
                         f"trainable parameters at all.")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or \
            not math.isfinite(alpha):
        raise TypeError(f"alpha must be a finite number, got {alpha!r}.")
    if alpha <= 0:
        raise ValueError(f"alpha must be positive (the update is scaled by alpha / r), "
                         f"got {alpha}.")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or \
            not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}.")
    return r, float(alpha), float(dropout)


def _check_names(what: str, names: object, allow_empty: bool = False) -> tuple[str, ...]:
    if isinstance(names, str):
        names = (names,)
    try:
        names = tuple(names)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what} must be a module name or a list of names, got "
                        f"{names!r}.") from None
    if not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"{what} must be a module name or a list of names, got {names!r}.")
    if not names and not allow_empty:
        raise ValueError(f"{what} is empty: name at least one module.")
    return names


def _matches(name: str, target: str) -> bool:
    return name == target or name.endswith("." + target)


def _inside(name: str, module: str) -> bool:
    """Whether ``name`` is ``module`` or lies inside it (peft's modules_to_save rule)."""
    return _matches(name, module) or name.startswith(module + ".") or \
        f".{module}." in name


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)``: numbers of parameters with and without ``requires_grad``
    (each shared tensor counted once, as ``peft``'s ``get_nb_trainable_parameters`` does)."""
    _check_model(model)
    trainable = total = 0
    for p in model.parameters():      # parameters() yields a shared tensor once
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return trainable, total


def freeze_all_but(model: nn.Module, trainable: Iterable[str] = ("classifier",)) -> int:
    """Freeze every parameter except those of the modules named in ``trainable`` (matched
    like ``peft``'s names, e.g. ``"classifier"``); returns the number left trainable.

    ``freeze_all_but(model, ("classifier",))`` is *head-only* fine-tuning (the encoder is a
    fixed feature extractor); ``freeze_all_but(model, ())`` freezes everything.
    """
    _check_model(model)
    names = _check_names("trainable", trainable, allow_empty=True)
    modules = dict(model.named_modules())
    missing = [t for t in names if not any(_matches(n, t) for n in modules)]
    if missing:
        raise ValueError(f"no module of {type(model).__name__} is called {missing}; its "
                         f"top-level modules are {[n for n, _ in model.named_children()]}.")
    keep = {id(p) for n, m in modules.items() if any(_inside(n, t) for t in names)
            for p in m.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)
    return count_parameters(model)[0]


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of Transformer layers of a Hugging Face model (``bert.encoder.layer`` for
    BERT): the first ``nn.ModuleList`` with ``config.num_hidden_layers`` entries."""
    _check_model(model)
    n = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) > 0 and \
                (n is None or len(module) == n):
            return module
    raise ValueError(f"{type(model).__name__} has no list of Transformer layers "
                     f"(an nn.ModuleList with config.num_hidden_layers = {n} entries).")


def freeze_bottom_layers(model: nn.Module, k: int) -> list[str]:
    """Partial fine-tuning: freeze the embeddings and the bottom ``k`` Transformer layers
    (``0..k-1``), train the rest (the upper layers, the pooler, the head). ``k = 0``
    freezes only the embeddings. Returns the names of the frozen modules."""
    _check_model(model)
    layers = encoder_layers(model)
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int, got {k!r}.")
    if not 0 <= k <= len(layers):
        raise ValueError(f"k must be between 0 and {len(layers)} (the number of layers), "
                         f"got {k}.")
    base = getattr(model, "base_model", model)
    embeddings = getattr(base, "embeddings", None)
    if embeddings is None:
        embeddings = model.get_input_embeddings()
    names = {id(m): n for n, m in model.named_modules()}
    for p in model.parameters():
        p.requires_grad_(True)
    frozen = [embeddings] + list(layers[:k])
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    return [names[id(m)] for m in frozen]


def lora_parameter_count(d_in: int, d_out: int, r: int) -> int:
    """Trainable parameters LoRA adds to one ``d_in -> d_out`` linear layer: ``r (d_in +
    d_out)`` (``A`` is ``r x d_in``, ``B`` is ``d_out x r``), against ``d_in d_out`` for
    training the layer itself."""
    for name, value in (("d_in", d_in), ("d_out", d_out)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    r, _, _ = _check_rank_alpha(r, 1.0, 0.0)
    return r * (d_in + d_out)


class LoRALinear(nn.Module):
    r"""``base(x) + (alpha / r) * B A dropout(x)``, with ``base`` (an ``nn.Linear``) frozen.

    ``A`` (``lora_A``, ``r x d_in``) starts Kaiming-uniform with ``a = sqrt(5)``, as
    ``nn.Linear`` and ``peft`` initialise it; ``B`` (``lora_B``, ``d_out x r``) starts at
    zero, so at the start the layer computes exactly ``base(x)``, and the gradient reaches
    ``B`` at once (through ``A x``), then ``A``. :meth:`merge` adds the update to
    ``base.weight`` (no extra cost at inference); :meth:`unmerge` takes it out again.
    """

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}.")
        r, alpha, dropout = _check_rank_alpha(r, alpha, dropout)
        self.base, self.r, self.alpha, self.scaling = base, r, alpha, alpha / r
        for p in base.parameters():
            p.requires_grad_(False)
        weight = base.weight
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, dtype=weight.dtype,
                                               device=weight.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, dtype=weight.dtype,
                                               device=weight.device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    def delta_weight(self) -> torch.Tensor:
        """The update ``(alpha / r) B A``, a ``d_out x d_in`` matrix of rank at most r."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        if self.merged:
            return out
        return out + self.scaling * (self.dropout(x) @ self.lora_A.T @ self.lora_B.T)

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the update into the frozen weight: ``W_0 <- W_0 + (alpha/r) B A``."""
        if not self.merged:
            self.base.weight += self.delta_weight()
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Undo :meth:`merge`: ``W_0 <- W_0 - (alpha/r) B A`` (equal up to rounding)."""
        if self.merged:
            self.base.weight -= self.delta_weight()
            self.merged = False

    def extra_repr(self) -> str:
        return (f"in={self.base.in_features}, out={self.base.out_features}, r={self.r}, "
                f"alpha={self.alpha:g}, merged={self.merged}")


def find_target_modules(model: nn.Module, target_modules: Iterable[str]) -> list[str]:
    """Names of the modules of ``model`` that ``target_modules`` selects (peft's rule: the
    name equals a target or ends with ``"." + target``). A target that matches nothing
    raises ``ValueError`` listing the names of the model's linear layers."""
    _check_model(model)
    targets = _check_names("target_modules", target_modules)
    names = [n for n, _ in model.named_modules() if n]
    unmatched = [t for t in targets if not any(_matches(n, t) for n in names)]
    if unmatched:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules()
                         if isinstance(m, nn.Linear)})
        raise ValueError(f"target_modules {unmatched} match no module of "
                         f"{type(model).__name__}. Its linear layers are called {linear} "
                         f"(a target matches a module whose name is, or ends with, it).")
    return [n for n in names if any(_matches(n, t) for t in targets)]


def apply_lora(model: nn.Module, target_modules: Iterable[str] = ("query", "value"),
               r: int = 8, alpha: float = 16.0, dropout: float = 0.0,
               modules_to_save: Iterable[str] = ("classifier",)) -> list[str]:
    """Wrap each target ``nn.Linear`` of ``model`` (in place) in a :class:`LoRALinear`,
    freeze every other parameter except those of ``modules_to_save`` (the freshly
    initialised head must learn: ``peft`` adds ``classifier`` / ``score`` for ``SEQ_CLS``),
    and return the names of the wrapped layers.

    The default targets the query and value projections of every attention layer, as the
    LoRA paper did; ``("query", "key", "value", "dense")`` covers every linear layer of a
    BERT encoder.
    """
    _check_model(model)
    r, alpha, dropout = _check_rank_alpha(r, alpha, dropout)
    save = _check_names("modules_to_save", modules_to_save, allow_empty=True)
    if lora_layers(model):
        raise ValueError("this model already has LoRA layers: apply LoRA to a fresh copy.")
    names = [n for n in find_target_modules(model, target_modules)
             if not any(_inside(n, s) for s in save)]   # peft never wraps what it trains fully
    modules = dict(model.named_modules())
    wrong = sorted({type(modules[n]).__name__ for n in names
                    if not isinstance(modules[n], nn.Linear)})
    if wrong:
        raise TypeError(f"LoRA here wraps nn.Linear layers only; the targets also select "
                        f"{wrong} modules: name the linear layers themselves.")
    freeze_all_but(model, save)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(modules[name], r=r, alpha=alpha, dropout=dropout))
    return names


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """``{name: LoRALinear}`` for every LoRA layer of ``model``."""
    _check_model(model)
    return {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}


def merge_lora(model: nn.Module) -> int:
    """Merge every LoRA layer of ``model`` (:meth:`LoRALinear.merge`); returns how many."""
    layers = lora_layers(model)
    if not layers:
        raise ValueError("the model has no LoRA layers to merge: call apply_lora first.")
    for layer in layers.values():
        layer.merge()
    return len(layers)


def unmerge_lora(model: nn.Module) -> int:
    """Undo :func:`merge_lora`; returns the number of layers."""
    layers = lora_layers(model)
    if not layers:
        raise ValueError("the model has no LoRA layers to unmerge.")
    for layer in layers.values():
        layer.unmerge()
    return len(layers)


@torch.no_grad()
def copy_lora_to_peft(model: nn.Module, peft_model: nn.Module, adapter: str = "default"
                      ) -> int:
    """Copy ``A`` and ``B`` of every :class:`LoRALinear` of ``model``, and the parameters of
    the modules ``peft`` trains fully (its ``modules_to_save`` copies), into ``peft_model``
    (built by ``peft.get_peft_model`` on a copy of the same base model). Returns the number
    of tensors copied; a layer ``peft`` did not wrap raises ``ValueError``."""
    _check_model(model)
    _check_model(peft_model)
    layers = lora_layers(model)
    if not layers:
        raise ValueError("model has no LoRA layers: call apply_lora on it first.")
    inner = peft_model.get_base_model() if hasattr(peft_model, "get_base_model") else \
        peft_model
    copied = 0
    for name, layer in layers.items():
        try:
            target = inner.get_submodule(name)
            peft_a, peft_b = target.lora_A[adapter].weight, target.lora_B[adapter].weight
        except (AttributeError, KeyError):
            raise ValueError(f"peft_model has no LoRA adapter {adapter!r} at {name!r}: build "
                             f"it with the same target_modules.") from None
        if peft_a.shape != layer.lora_A.shape or peft_b.shape != layer.lora_B.shape:
            raise ValueError(f"{name}: peft's A, B have shapes {tuple(peft_a.shape)}, "
                             f"{tuple(peft_b.shape)}, ours {tuple(layer.lora_A.shape)}, "
                             f"{tuple(layer.lora_B.shape)}: use the same rank r.")
        peft_a.copy_(layer.lora_A)
        peft_b.copy_(layer.lora_B)
        copied += 2
    ours = dict(model.named_parameters())
    for name, p in inner.named_parameters():
        marker = f".modules_to_save.{adapter}."
        if marker in name:
            source = name.replace(marker, ".")
            if source in ours:
                p.copy_(ours[source])
                copied += 1
    return copied
