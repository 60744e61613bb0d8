"""The encoder-decoder Transformer, built from its parts (Sections 3.1, 3.2, 4.2, 5.2).

The classes follow the structure of Vaswani et al. (2017) and of
:class:`torch.nn.Transformer`, one small class per idea:

* :class:`TokenEmbedding` — a lookup table scaled by ``sqrt(d_model)``;
* :class:`~llmbook.positional.SinusoidalPositionalEncoding` — reused from Section 2.3;
* :class:`~llmbook.attention.MultiHeadAttention` — reused from Section 2.3;
* :class:`PositionwiseFeedForward` — two linear layers with a ReLU between;
* :class:`EncoderLayer`, :class:`DecoderLayer` — sublayers wrapped in a residual
  connection, dropout and LayerNorm, either *post-LN* (the 2017 paper,
  ``norm_first=False``) or *pre-LN* (GPT-2 and most later models, ``norm_first=True``);
  ``load_from_torch`` copies the weights of PyTorch's layer of the same kind;
* :class:`Encoder`, :class:`Decoder` — stacks of layers with a final LayerNorm;
* :class:`Transformer` — embeddings, positions, encoder, decoder and the output
  projection to vocabulary logits, with :meth:`Transformer.greedy_decode`.

Masks use the convention of :mod:`llmbook.attention`: a boolean mask is ``True`` where
attention is **allowed**, and broadcasts to ``(B, h, T, S)``. PyTorch's
``nn.Transformer`` uses the opposite convention (``True`` = blocked);
:func:`to_torch_masks` converts.
"""

from __future__ import annotations

import copy
import math
import warnings

import torch
from torch import nn

from .attention import MultiHeadAttention, causal_mask
from .positional import SinusoidalPositionalEncoding

__all__ = [
    "TokenEmbedding",
    "PositionwiseFeedForward",
    "EncoderLayer",
    "DecoderLayer",
    "Encoder",
    "Decoder",
    "Transformer",
    "source_mask",
    "target_mask",
    "to_torch_masks",
    "torch_reference",
    "count_parameters",
]


def _check_positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return value


def _check_dropout(value: object) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"dropout must be a probability in [0, 1), got {value!r}.")
    return float(value)


def _check_norm_first(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"norm_first must be True (pre-LN) or False (post-LN), got {value!r}.")
    return value


def _check_sequence(name: str, x: object, d_model: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}.")
    if x.dim() != 3 or x.size(-1) != d_model:
        raise ValueError(f"{name} must have shape (batch, length, d_model={d_model}), got "
                         f"{tuple(x.shape)}. Embed token ids first (TokenEmbedding).")
    return x


def _check_mask(name: str, mask: torch.Tensor | None, batch: int, queries: int,
                keys: int) -> None:
    """A mask must broadcast to ``(B, h, T, S)``; say which size is wrong if not."""
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {type(mask).__name__}.")
    if mask.dim() < 2 or mask.dim() > 4:
        raise ValueError(f"{name} must have 2 to 4 dimensions, broadcastable to (batch, heads, "
                         f"queries={queries}, keys={keys}); got shape {tuple(mask.shape)}.")
    padded = (1,) * (4 - mask.dim()) + tuple(mask.shape)
    for size, want, what in ((padded[0], batch, "batch"), (padded[2], queries, "queries"),
                             (padded[3], keys, "keys")):
        if size not in (1, want):
            raise ValueError(
                f"{name} of shape {tuple(mask.shape)} does not fit: its {what} dimension is "
                f"{size}, expected {want} (or 1). Masks broadcast to (batch={batch}, heads, "
                f"queries={queries}, keys={keys}); build them with source_mask / "
                f"target_mask.")


class TokenEmbedding(nn.Module):
    r"""Token ids ``(B, T)`` -> vectors ``(B, T, d_model)``, multiplied by
    :math:`\sqrt{d_{\text{model}}}` as in the 2017 paper (so that the embeddings are
    not drowned by the positional encodings added next)."""

    def __init__(self, vocab_size: int, d_model: int, padding_idx: int | None = None):
        super().__init__()
        self.vocab_size = _check_positive_int("vocab_size", vocab_size)
        self.d_model = _check_positive_int("d_model", d_model)
        self.lookup = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.is_floating_point():
            shape = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise ValueError(f"ids must be a (batch, length) tensor of integer token ids, "
                             f"got {shape}.")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size - 1}], got ids from "
                             f"{int(ids.min())} to {int(ids.max())}.")
        return self.lookup(ids) * math.sqrt(self.d_model)


class PositionwiseFeedForward(nn.Module):
    r""":math:`\mathrm{FFN}(x) = \max(0, xW_1 + b_1)W_2 + b_2`, applied to every position
    separately (the same weights at every position). ``d_ff`` is usually ``4 * d_model``."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.d_model = _check_positive_int("d_model", d_model)
        _check_positive_int("d_ff", d_ff)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(_check_dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_sequence("x", x, self.d_model)
        return self.linear2(self.dropout(torch.relu(self.linear1(x))))


class _SublayerStack(nn.Module):
    """What both layers hold, created in this order (the order of their parameters):
    ``self_attn``, ``cross_attn`` (decoder only), ``feed_forward``, one LayerNorm and one
    dropout per residual step (``norm1``, ``norm2``[, ``norm3``], ``dropout1``, ...)."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float,
                 norm_first: bool, eps: float, *, cross_attention: bool):
        super().__init__()
        dropout = _check_dropout(dropout)
        self.d_model = _check_positive_int("d_model", d_model)
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        if cross_attention:
            self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.feed_forward = PositionwiseFeedForward(d_model, d_ff, dropout)
        steps = range(1, 4 if cross_attention else 3)
        for i in steps:
            setattr(self, f"norm{i}", nn.LayerNorm(d_model, eps=eps))
        for i in steps:
            setattr(self, f"dropout{i}", nn.Dropout(dropout))
        self.norm_first = _check_norm_first(norm_first)


class EncoderLayer(_SublayerStack):
    r"""One encoder layer: self-attention, then the feed-forward network, each in a
    residual connection.

    * post-LN (``norm_first=False``, the 2017 paper):
      :math:`x \leftarrow \mathrm{LN}(x + \mathrm{Drop}(\mathrm{Sublayer}(x)))`;
    * pre-LN (``norm_first=True``, GPT-2 and later):
      :math:`x \leftarrow x + \mathrm{Drop}(\mathrm{Sublayer}(\mathrm{LN}(x)))`.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1,
                 norm_first: bool = False, eps: float = 1e-5):
        super().__init__(d_model, num_heads, d_ff, dropout, norm_first, eps,
                         cross_attention=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x (B, S, d_model)``, ``mask`` broadcastable to ``(B, h, S, S)`` -> ``(B, S, d_model)``."""
        _check_sequence("x", x, self.d_model)
        _check_mask("mask", mask, x.size(0), x.size(1), x.size(1))
        if self.norm_first:
            h = self.norm1(x)
            x = x + self.dropout1(self.self_attn(h, h, h, mask))
            x = x + self.dropout2(self.feed_forward(self.norm2(x)))
        else:
            x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, mask)))
            x = self.norm2(x + self.dropout2(self.feed_forward(x)))
        return x

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerEncoderLayer) -> "EncoderLayer":
        """Copy the weights of a ``torch.nn.TransformerEncoderLayer`` (ReLU, same sizes)."""
        return _load_layer(self, layer, nn.TransformerEncoderLayer, [("self_attn", "self_attn")])


class DecoderLayer(_SublayerStack):
    r"""One decoder layer: masked self-attention over the target, cross-attention
    (queries from the decoder, keys and values from the encoder's output ``memory``),
    then the feed-forward network; residuals and LayerNorm as in :class:`EncoderLayer`."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1,
                 norm_first: bool = False, eps: float = 1e-5):
        super().__init__(d_model, num_heads, d_ff, dropout, norm_first, eps,
                         cross_attention=True)

    def forward(self, y: torch.Tensor, memory: torch.Tensor,
                tgt_mask: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``y (B, T, d_model)`` target so far, ``memory (B, S, d_model)``;
        ``tgt_mask`` broadcastable to ``(B, h, T, T)`` (causal), ``memory_mask`` to
        ``(B, h, T, S)`` (source padding) -> ``(B, T, d_model)``."""
        _check_sequence("y", y, self.d_model)
        _check_sequence("memory", memory, self.d_model)
        if memory.size(0) != y.size(0):
            raise ValueError(f"y and memory must have the same batch size, got "
                             f"{y.size(0)} and {memory.size(0)}.")
        _check_mask("tgt_mask", tgt_mask, y.size(0), y.size(1), y.size(1))
        _check_mask("memory_mask", memory_mask, y.size(0), y.size(1), memory.size(1))
        if self.norm_first:
            h = self.norm1(y)
            y = y + self.dropout1(self.self_attn(h, h, h, tgt_mask))
            y = y + self.dropout2(self.cross_attn(self.norm2(y), memory, memory, memory_mask))
            y = y + self.dropout3(self.feed_forward(self.norm3(y)))
        else:
            y = self.norm1(y + self.dropout1(self.self_attn(y, y, y, tgt_mask)))
            y = self.norm2(y + self.dropout2(self.cross_attn(y, memory, memory, memory_mask)))
            y = self.norm3(y + self.dropout3(self.feed_forward(y)))
        return y

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerDecoderLayer) -> "DecoderLayer":
        """Copy the weights of a ``torch.nn.TransformerDecoderLayer`` (ReLU, same sizes)."""
        return _load_layer(self, layer, nn.TransformerDecoderLayer,
                           [("self_attn", "self_attn"), ("cross_attn", "multihead_attn")])


def _clones(layer: nn.Module, n: int) -> nn.ModuleList:
    _check_positive_int("num_layers", n)
    return nn.ModuleList(copy.deepcopy(layer) for _ in range(n))


class Encoder(nn.Module):
    """``num_layers`` :class:`EncoderLayer` s and a final LayerNorm (as in
    ``nn.TransformerEncoder`` built by ``nn.Transformer``)."""

    def __init__(self, layer: EncoderLayer, num_layers: int):
        super().__init__()
        if not isinstance(layer, EncoderLayer):
            raise TypeError(f"layer must be an EncoderLayer, got {type(layer).__name__}.")
        self.layers = _clones(layer, num_layers)
        self.norm = nn.LayerNorm(layer.d_model, eps=layer.norm1.eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x)


class Decoder(nn.Module):
    """``num_layers`` :class:`DecoderLayer` s and a final LayerNorm."""

    def __init__(self, layer: DecoderLayer, num_layers: int):
        super().__init__()
        if not isinstance(layer, DecoderLayer):
            raise TypeError(f"layer must be a DecoderLayer, got {type(layer).__name__}.")
        self.layers = _clones(layer, num_layers)
        self.norm = nn.LayerNorm(layer.d_model, eps=layer.norm1.eps)

    def forward(self, y: torch.Tensor, memory: torch.Tensor,
                tgt_mask: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            y = layer(y, memory, tgt_mask, memory_mask)
        return self.norm(y)


def source_mask(src: torch.Tensor, pad_id: int) -> torch.Tensor:
    """``(B, 1, 1, S)`` boolean mask of a batch of source ids: ``True`` at real tokens,
    ``False`` at padding, so no query attends to a padding key."""
    if not isinstance(src, torch.Tensor) or src.dim() != 2:
        raise ValueError("src must be a (batch, length) tensor of token ids, got "
                         f"{tuple(src.shape) if isinstance(src, torch.Tensor) else src!r}.")
    return (src != pad_id)[:, None, None, :]


def target_mask(tgt: torch.Tensor, pad_id: int) -> torch.Tensor:
    """``(B, 1, T, T)`` boolean mask of a batch of decoder inputs: position ``t`` may
    attend to positions ``0..t`` (causal) that are not padding."""
    if not isinstance(tgt, torch.Tensor) or tgt.dim() != 2:
        raise ValueError("tgt must be a (batch, length) tensor of token ids, got "
                         f"{tuple(tgt.shape) if isinstance(tgt, torch.Tensor) else tgt!r}.")
    return source_mask(tgt, pad_id) & causal_mask(tgt.size(1), device=tgt.device)


def to_torch_masks(src: torch.Tensor, tgt: torch.Tensor, pad_id: int) -> dict:
    """The keyword arguments that give ``nn.Transformer`` (``batch_first=True``) the
    masks :func:`source_mask` and :func:`target_mask` give ours. PyTorch marks
    **blocked** positions with ``True``, so every mask is negated."""
    for name, ids in (("src", src), ("tgt", tgt)):
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
            raise ValueError(f"{name} must be a (batch, length) tensor of token ids.")
    return {
        "tgt_mask": ~causal_mask(tgt.size(1), device=tgt.device),
        "src_key_padding_mask": src == pad_id,
        "tgt_key_padding_mask": tgt == pad_id,
        "memory_key_padding_mask": src == pad_id,
    }


class Transformer(nn.Module):
    """The encoder-decoder Transformer of Vaswani et al. (2017).

    ``forward(src, tgt)`` maps source ids ``(B, S)`` and decoder input ids ``(B, T)``
    (the target shifted right, starting with ``<bos>``) to logits
    ``(B, T, tgt_vocab)``: embedding x sqrt(d_model) + positional encoding ->
    encoder -> decoder (masked self-attention, cross-attention) -> output projection.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 512, num_heads: int = 8,
                 num_encoder_layers: int = 6, num_decoder_layers: int = 6, d_ff: int = 2048,
                 dropout: float = 0.1, norm_first: bool = False, max_len: int = 512,
                 pad_id: int = 0):
        super().__init__()
        self.config = dict(src_vocab=src_vocab, tgt_vocab=tgt_vocab, d_model=d_model,
                           num_heads=num_heads, num_encoder_layers=num_encoder_layers,
                           num_decoder_layers=num_decoder_layers, d_ff=d_ff, dropout=dropout,
                           norm_first=norm_first, max_len=max_len, pad_id=pad_id)
        self.d_model, self.pad_id = d_model, pad_id
        self.src_embed = TokenEmbedding(src_vocab, d_model)
        self.tgt_embed = TokenEmbedding(tgt_vocab, d_model)
        self.positions = SinusoidalPositionalEncoding(d_model, max_len, dropout)
        self.encoder = Encoder(EncoderLayer(d_model, num_heads, d_ff, dropout, norm_first),
                               num_encoder_layers)
        self.decoder = Decoder(DecoderLayer(d_model, num_heads, d_ff, dropout, norm_first),
                               num_decoder_layers)
        self.output = nn.Linear(d_model, tgt_vocab)
        for p in self.parameters():  # Glorot initialisation of the matrices, as nn.Transformer
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source ids ``(B, S)`` -> ``(memory (B, S, d_model), src_mask)``."""
        mask = source_mask(src, self.pad_id)
        return self.encoder(self.positions(self.src_embed(src)), mask), mask

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor,
               src_mask: torch.Tensor) -> torch.Tensor:
        """Decoder input ids ``(B, T)`` and the encoder's memory -> logits ``(B, T, V)``."""
        y = self.positions(self.tgt_embed(tgt))
        y = self.decoder(y, memory, target_mask(tgt, self.pad_id), src_mask)
        return self.output(y)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        if not isinstance(src, torch.Tensor) or not isinstance(tgt, torch.Tensor) or \
                src.dim() != 2 or tgt.dim() != 2 or src.size(0) != tgt.size(0):
            raise ValueError(
                "src and tgt must be (batch, length) tensors of token ids with the same batch "
                f"size, got {getattr(src, 'shape', src)!r} and {getattr(tgt, 'shape', tgt)!r}.")
        memory, src_mask = self.encode(src)
        return self.decode(tgt, memory, src_mask)

    def forward_embedded(self, x: torch.Tensor, y: torch.Tensor,
                         src_mask: torch.Tensor | None = None,
                         tgt_mask: torch.Tensor | None = None,
                         memory_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Encoder and decoder only, on already embedded inputs ``x (B, S, d)``,
        ``y (B, T, d)`` — exactly what ``nn.Transformer.forward`` computes."""
        return self.decoder(y, self.encoder(x, src_mask), tgt_mask, memory_mask)

    @torch.no_grad()
    def greedy_decode(self, src: torch.Tensor, bos_id: int, eos_id: int,
                      max_len: int = 32) -> torch.Tensor:
        """Generate outputs for source ids ``(B, S)`` one token at a time, always taking
        the most likely next token. Returns ``(B, <= max_len)`` ids without ``<bos>``;
        positions after ``<eos>`` hold ``pad_id``."""
        _check_positive_int("max_len", max_len)
        was_training = self.training
        self.eval()
        memory, src_mask = self.encode(src)
        out = torch.full((src.size(0), 1), bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            next_id = self.decode(out, memory, src_mask)[:, -1].argmax(-1)
            next_id = next_id.masked_fill(done, self.pad_id)
            out = torch.cat([out, next_id[:, None]], dim=1)
            done |= next_id == eos_id
            if done.all():
                break
        self.train(was_training)
        return out[:, 1:]

    def attention_weights(self) -> dict[str, list[torch.Tensor]]:
        """The attention weights of the last forward pass, per layer ``(B, h, T, S)``:
        ``encoder`` self-attention, ``decoder`` self-attention and ``cross``-attention."""
        return {"encoder": [l.self_attn.last_weights for l in self.encoder.layers],
                "decoder": [l.self_attn.last_weights for l in self.decoder.layers],
                "cross": [l.cross_attn.last_weights for l in self.decoder.layers]}

    @torch.no_grad()
    def load_from_torch(self, reference: nn.Transformer) -> "Transformer":
        """Copy the weights of a ``torch.nn.Transformer`` of the same shape (encoder,
        decoder and their final norms; it has no embeddings or output projection)."""
        if not isinstance(reference, nn.Transformer):
            raise TypeError(f"expected torch.nn.Transformer, got {type(reference).__name__}.")
        theirs_enc, theirs_dec = reference.encoder.layers, reference.decoder.layers
        if len(theirs_enc) != len(self.encoder.layers) or \
                len(theirs_dec) != len(self.decoder.layers) or \
                reference.d_model != self.d_model:
            raise ValueError(
                f"shape mismatch: nn.Transformer has d_model={reference.d_model}, "
                f"{len(theirs_enc)} encoder and {len(theirs_dec)} decoder layers; this model "
                f"d_model={self.d_model}, {len(self.encoder.layers)} and "
                f"{len(self.decoder.layers)}.")
        if theirs_enc[0].norm_first != self.encoder.layers[0].norm_first:
            raise ValueError(f"norm_first differs: nn.Transformer has "
                             f"{theirs_enc[0].norm_first}, this model "
                             f"{self.encoder.layers[0].norm_first}.")
        for mine, theirs in zip(self.encoder.layers, theirs_enc):
            _copy_layer(mine, theirs, [("self_attn", "self_attn")], 2)
        for mine, theirs in zip(self.decoder.layers, theirs_dec):
            _copy_layer(mine, theirs, [("self_attn", "self_attn"),
                                       ("cross_attn", "multihead_attn")], 3)
        self.encoder.norm.load_state_dict(reference.encoder.norm.state_dict())
        self.decoder.norm.load_state_dict(reference.decoder.norm.state_dict())
        return self


def _load_layer(mine: nn.Module, theirs: nn.Module, expected: type,
                attentions: list[tuple[str, str]]) -> nn.Module:
    """Copy the PyTorch layer ``theirs`` (of type ``expected``, with ``mine``'s layout and
    sizes) into ``mine``: its attentions named in ``attentions``, feed-forward and norms."""
    if not isinstance(theirs, expected):
        raise TypeError(f"expected {expected.__name__}, got {type(theirs).__name__}.")
    if theirs.norm_first != mine.norm_first:
        raise ValueError(f"norm_first differs: torch layer {theirs.norm_first}, "
                         f"this one {mine.norm_first}.")
    if theirs.linear1.weight.shape != mine.feed_forward.linear1.weight.shape:
        raise ValueError(f"d_model or d_ff differs: torch layer "
                         f"{tuple(theirs.linear1.weight.shape)[::-1]}, this one "
                         f"{tuple(mine.feed_forward.linear1.weight.shape)[::-1]}.")
    _copy_layer(mine, theirs, attentions, len(attentions) + 1)
    return mine


def _copy_layer(mine: nn.Module, theirs: nn.Module, attentions: list[tuple[str, str]],
                num_norms: int) -> None:
    for my_name, their_name in attentions:
        getattr(mine, my_name).load_from_torch(getattr(theirs, their_name))
    mine.feed_forward.linear1.load_state_dict(theirs.linear1.state_dict())
    mine.feed_forward.linear2.load_state_dict(theirs.linear2.state_dict())
    for i in range(1, num_norms + 1):
        getattr(mine, f"norm{i}").load_state_dict(getattr(theirs, f"norm{i}").state_dict())


def torch_reference(d_model: int, num_heads: int, num_encoder_layers: int,
                    num_decoder_layers: int, d_ff: int, *, dropout: float = 0.0,
                    norm_first: bool = False) -> nn.Transformer:
    """A ``torch.nn.Transformer`` (``batch_first=True``) to compare with.

    Its nested-tensor shortcut is switched off: with it, PyTorch returns zeros at
    padding positions in evaluation mode, where the plain computation gives numbers.
    (The warning PyTorch emits about it for pre-LN models is silenced.)"""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="enable_nested_tensor")
        reference = nn.Transformer(d_model, num_heads, num_encoder_layers, num_decoder_layers,
                                   d_ff, dropout, batch_first=True, norm_first=norm_first)
    reference.encoder.enable_nested_tensor = False
    reference.encoder.use_nested_tensor = False
    return reference


def count_parameters(module: nn.Module) -> int:
    """The number of trainable parameters of a module."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(module).__name__}.")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
