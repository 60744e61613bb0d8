"""Int8 weight quantization, built from scratch, and the measurements that judge it.

Symmetric, per output channel ("per row"), weight-only: row :math:`i` of a weight matrix
:math:`W` (``out_features x in_features``) gets its own scale

.. math:: s_i = \\max_j |W_{ij}| / 127, \\qquad Q_{ij} = \\operatorname{round}(W_{ij}/s_i)
          \\in [-127, 127], \\qquad \\hat W_{ij} = s_i Q_{ij},

so each weight is stored in one byte instead of four, and rounding moves it by at most
:math:`s_i/2`. Activations stay in floating point.

* :func:`quantize_int8` / :func:`dequantize_int8` -- the formula, for one matrix;
* :class:`Int8Linear` -- a drop-in ``nn.Linear`` holding int8 weights and float scales;
* :func:`quantize_model` -- replaces the ``nn.Linear`` layers of a model (embeddings and a
  weight-tied output layer stay in float);
* :func:`torchao_int8_model` -- the same model quantized by ``torchao`` (the maintained
  library; ``torch.ao.quantization``'s eager mode is deprecated), and
  :func:`weight_differences` to compare the two;
* :func:`model_bytes`, :func:`save_safetensors` / :func:`load_safetensors`,
  :func:`perplexity`, :func:`generation_speed` -- what a quantized model costs and loses.

``torchao``'s ``Int8WeightOnlyConfig`` maps :math:`\\max|W|` to 127.5 instead of 127 and uses
the whole range ``[-128, 127]`` (``qmax=TORCHAO_QMAX`` here reproduces it exactly); both
floor the scale at float32's machine epsilon, so a row of zeros needs no division by zero.
"""

from __future__ import annotations

import copy
import math
import os
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["INT8_QMAX", "TORCHAO_QMAX", "MIN_SCALE", "quantize_int8", "dequantize_int8",
           "Int8Linear", "quantize_model", "int8_layer_names", "torchao_int8_model",
           "weight_differences", "model_bytes", "save_safetensors", "load_safetensors",
           "perplexity", "GenerationSpeed", "generation_speed"]

#: The book's choice: max|w| of a row becomes 127, so the codes are symmetric, -127..127.
INT8_QMAX = 127.0
#: torchao's choice: max|w| becomes (127 - (-128)) / 2 = 127.5; +max rounds to 128 and is
#: clipped to 127, so the codes use the whole int8 range -128..127.
TORCHAO_QMAX = 127.5
#: The smallest scale (float32's machine epsilon, as in torchao): an all-zero row gets it.
MIN_SCALE = torch.finfo(torch.float32).eps


def _check_qmax(qmax: object) -> float:
    if isinstance(qmax, bool) or not isinstance(qmax, (int, float)):
        raise TypeError(f"qmax must be a number (INT8_QMAX = 127.0 or TORCHAO_QMAX = 127.5), "
                        f"got {type(qmax).__name__}.")
    if not 1.0 <= qmax <= TORCHAO_QMAX:
        raise ValueError(f"qmax must lie in [1, 127.5] so that round(w / s) fits in int8 with "
                         f"an error of at most s/2; got {qmax}.")
    return float(qmax)


def _check_weight(weight: object) -> torch.Tensor:
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}.")
    if weight.dim() != 2:
        raise ValueError(f"weight must be a 2-D matrix (out_features, in_features), got shape "
                         f"{tuple(weight.shape)}.")
    if not weight.is_floating_point():
        raise TypeError(f"weight must be a floating-point tensor, got {weight.dtype}.")
    if weight.numel() == 0:
        raise ValueError(f"weight is empty (shape {tuple(weight.shape)}).")
    weight = weight.detach().float()
    if not torch.isfinite(weight.abs().amax()):       # one pass instead of isfinite(w).all()
        raise ValueError("weight contains NaN or inf: there is no finite scale for it.")
    return weight


def quantize_int8(weight: torch.Tensor, *, qmax: float = INT8_QMAX
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row symmetric int8 quantization: returns ``(q, scale)``.

    ``scale[i] = max(max_j |weight[i, j]| / qmax, MIN_SCALE)`` (float32, one per output
    channel) and ``q = clamp(round(weight / scale), -128, 127)`` (int8, the shape of
    ``weight``); ``dequantize_int8(q, scale)`` approximates ``weight`` to within ``scale / 2``.
    ``qmax=INT8_QMAX`` (127) is the book's scheme, ``TORCHAO_QMAX`` (127.5) torchao's.
    """
    w = _check_weight(weight)
    qmax = _check_qmax(qmax)
    scale = (w.abs().amax(dim=1) / qmax).clamp(min=MIN_SCALE)
    # w * (1/s), not w / s: the two can round a value lying exactly between two codes
    # differently, and torchao multiplies by the reciprocal.
    codes = w * (1.0 / scale)[:, None]
    return codes.round_().clamp_(-128, 127).to(torch.int8), scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype = torch.float32
                    ) -> torch.Tensor:
    """The float matrix ``q * scale[:, None]`` that int8 codes and their row scales stand for."""
    if not isinstance(q, torch.Tensor) or q.dtype != torch.int8 or q.dim() != 2:
        raise TypeError(f"q must be a 2-D int8 tensor (from quantize_int8), got "
                        f"{getattr(q, 'dtype', type(q).__name__)} "
                        f"{tuple(getattr(q, 'shape', ()))}.")
    if not isinstance(scale, torch.Tensor) or not scale.is_floating_point() or \
            tuple(scale.shape) != (q.shape[0],):
        raise ValueError(f"scale must be a float tensor of shape ({q.shape[0]},), one per row "
                         f"of q, got {tuple(getattr(scale, 'shape', ()))}.")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating torch dtype, got {dtype!r}.")
    return q.to(dtype) * scale.to(dtype)[:, None]


class Int8Linear(nn.Module):
    """A linear layer ``y = x W^T + b`` whose ``W`` is stored as int8 codes and row scales.

    The forward pass multiplies by the int8 matrix converted to the input's dtype and scales
    the *output*: since scale ``s_i`` belongs to output ``i``,
    ``(x \\hat W^T)_i = s_i (x Q^T)_i``, which saves one elementwise pass over the weight
    compared with dequantizing it first (torchao's weight-only path does the same). The
    bias stays in float. There is no int8 matrix product here: that needs the activations
    quantized too (W8A8), and PyTorch's int8-weight CPU kernel was slower than this on the
    book's CPUs; the saving is memory, and the speed comes from fused kernels elsewhere.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("weight_int8", torch.zeros(out_features, in_features,
                                                        dtype=torch.int8))
        self.register_buffer("scale", torch.ones(out_features))
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)

    @classmethod
    def from_linear(cls, linear: nn.Linear, *, qmax: float = INT8_QMAX) -> "Int8Linear":
        """The int8 copy of ``linear`` (its weight quantized by :func:`quantize_int8`)."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"from_linear needs an nn.Linear, got {type(linear).__name__}.")
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None)
        q, scale = quantize_int8(linear.weight, qmax=qmax)
        layer.weight_int8.copy_(q)
        layer.scale.copy_(scale)
        if linear.bias is not None:
            layer.bias.copy_(linear.bias.detach())
        return layer.to(linear.weight.device)

    def dequantized_weight(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The float weight this layer computes with, ``Q * s``."""
        return dequantize_int8(self.weight_int8, self.scale, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"Int8Linear expects inputs with last dimension "
                             f"{self.in_features}, got shape {tuple(x.shape)}.")
        y = F.linear(x, self.weight_int8.to(x.dtype)) * self.scale.to(x.dtype)
        return y if self.bias is None else y + self.bias.to(x.dtype)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, weight=int8 per-row")


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    return model


def _check_skip(skip: object) -> tuple[str, ...]:
    if isinstance(skip, str) or not isinstance(skip, (tuple, list)) or \
            not all(isinstance(s, str) for s in skip):
        raise TypeError(f"skip must be a tuple of module names (e.g. ('lm_head',)), got "
                        f"{skip!r}.")
    return tuple(skip)


def _linears_to_quantize(model: nn.Module, skip: tuple[str, ...]) -> list[str]:
    """Qualified names of the ``nn.Linear`` layers to quantize: not named in ``skip`` (full
    name or last part) and not sharing their weight with an embedding (a tied output layer:
    quantizing it would untie it and store the matrix twice)."""
    tied = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    return [name for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and name not in skip
            and name.rsplit(".", 1)[-1] not in skip and id(m.weight) not in tied]


def quantize_model(model: nn.Module, *, qmax: float = INT8_QMAX,
                   skip: tuple[str, ...] = ("lm_head",), inplace: bool = False) -> nn.Module:
    """A copy of ``model`` (or ``model`` itself with ``inplace=True``) whose ``nn.Linear``
    layers are :class:`Int8Linear`.

    Kept in float: embeddings, norms, biases, the layers named in ``skip`` (the output layer
    ``lm_head`` by default: the last layer is the most sensitive, and in a weight-tied model
    it *is* the embedding matrix) and any linear layer whose weight is tied to an embedding.
    """
    _check_model(model)
    qmax, skip = _check_qmax(qmax), _check_skip(skip)
    if not isinstance(inplace, bool):
        raise TypeError(f"inplace must be True or False, got {inplace!r}.")
    names = _linears_to_quantize(model, skip)
    if not names:
        raise ValueError("the model has no nn.Linear layer to quantize (all are skipped, tied "
                         "to an embedding, or already quantized).")
    target = model if inplace else copy.deepcopy(model)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = target.get_submodule(parent_name) if parent_name else target
        setattr(parent, child, Int8Linear.from_linear(getattr(parent, child), qmax=qmax))
    return target


def int8_layer_names(model: nn.Module) -> list[str]:
    """The qualified names of the model's :class:`Int8Linear` layers."""
    return [n for n, m in _check_model(model).named_modules() if isinstance(m, Int8Linear)]


def _torchao():
    try:
        import torchao
        from torchao.quantization import Int8WeightOnlyConfig, quantize_
    except ImportError as error:  # pragma: no cover - torchao is pinned in the book
        raise ImportError("torchao is not installed: pip install torchao==0.18.0") from error
    return torchao, Int8WeightOnlyConfig, quantize_


def torchao_int8_model(model: nn.Module, *, skip: tuple[str, ...] = ("lm_head",),
                       inplace: bool = False) -> nn.Module:
    """``model`` quantized by ``torchao.quantization.quantize_(model, Int8WeightOnlyConfig())``
    (int8 weight-only, per row), on the same layers as :func:`quantize_model`."""
    _check_model(model)
    skip = _check_skip(skip)
    torchao, config_class, quantize_ = _torchao()
    target = model if inplace else copy.deepcopy(model)
    names = set(_linears_to_quantize(target, skip))
    if not names:
        raise ValueError("the model has no nn.Linear layer to quantize.")
    try:  # version 2: the Int8Tensor weight (torchao >= 0.16); no torch.compile settings
        config = config_class(set_inductor_config=False, version=2)
    except TypeError as error:  # pragma: no cover - an older torchao
        raise ImportError(f"this torchao ({torchao.__version__}) lacks Int8WeightOnlyConfig("
                          f"version=2): pip install torchao==0.18.0") from error
    quantize_(target, config, filter_fn=lambda module, fqn: fqn in names)
    return target


def _as_float_weight(module: nn.Module) -> torch.Tensor | None:
    if isinstance(module, Int8Linear):
        return module.dequantized_weight()
    weight = getattr(module, "weight", None)
    if isinstance(module, nn.Linear) and isinstance(weight, torch.Tensor):
        if hasattr(weight, "dequantize") and hasattr(weight, "qdata"):  # a torchao tensor
            return weight.dequantize().float()
        return weight.detach().float()
    return None


def _int8_codes(module: nn.Module) -> torch.Tensor | None:
    if isinstance(module, Int8Linear):
        return module.weight_int8
    return getattr(getattr(module, "weight", None), "qdata", None)


def weight_differences(model_a: nn.Module, model_b: nn.Module) -> dict[str, float | int]:
    """Compare the linear layers two models share by name (float, :class:`Int8Linear` or
    torchao-quantized): ``layers`` compared, ``max_weight_diff`` (the largest absolute
    difference of the float weights they compute with), and, where both hold int8 codes,
    ``codes``, ``codes_differ`` and ``max_code_diff``."""
    a, b = dict(_check_model(model_a).named_modules()), dict(_check_model(model_b).named_modules())
    layers, max_diff, codes, differ, max_code = 0, 0.0, 0, 0, 0
    for name, module in a.items():
        wa = _as_float_weight(module)
        wb = _as_float_weight(b[name]) if name in b else None
        if wa is None or wb is None:
            continue
        if wa.shape != wb.shape:
            raise ValueError(f"layer {name!r} has shape {tuple(wa.shape)} in the first model "
                             f"and {tuple(wb.shape)} in the second.")
        layers += 1
        max_diff = max(max_diff, float((wa - wb).abs().max()))
        qa, qb = _int8_codes(module), _int8_codes(b[name])
        if qa is not None and qb is not None:
            unequal = qa != qb
            codes, differ = codes + unequal.numel(), differ + int(unequal.sum())
            if differ:
                gap = (qa[unequal].short() - qb[unequal].short()).abs()
                max_code = max(max_code, int(gap.max()) if gap.numel() else 0)
    if not layers:
        raise ValueError("the two models share no linear layer by name.")
    result: dict[str, float | int] = {"layers": layers, "max_weight_diff": max_diff}
    if codes:
        result.update(codes=codes, codes_differ=differ, max_code_diff=max_code)
    return result


def _plain_tensors(tensor: torch.Tensor):
    """The ordinary tensors a tensor stands for (the inner tensors of a torchao tensor)."""
    from torch.utils._python_dispatch import is_traceable_wrapper_subclass

    if is_traceable_wrapper_subclass(tensor):
        names, _ = tensor.__tensor_flatten__()
        for name in names:
            yield from _plain_tensors(getattr(tensor, name))
    else:
        yield tensor


def model_bytes(model: nn.Module) -> int:
    """Bytes of memory the model's parameters and buffers hold, each storage counted once
    (a tied embedding and output layer are one matrix; a torchao weight counts as its int8
    codes plus its scales)."""
    seen: dict[tuple[str, int], int] = {}
    for tensor in [*_check_model(model).parameters(), *model.buffers()]:
        for plain in _plain_tensors(tensor):
            storage = plain.untyped_storage()
            seen[(str(plain.device), storage.data_ptr())] = storage.nbytes()
    return sum(seen.values())


def _flat_state(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, str] | None]:
    """The state dict as plain tensors for safetensors: each shared storage (tied weights)
    saved once; torchao tensors flattened by torchao's own safetensors support."""
    state, seen = {}, set()
    for name, tensor in model.state_dict().items():
        key = (tensor.data_ptr(), tuple(tensor.shape), tensor.dtype)
        if type(tensor) in (torch.Tensor, nn.Parameter) and key in seen:
            continue
        seen.add(key)
        state[name] = tensor.detach()
    if all(type(t) in (torch.Tensor, nn.Parameter) for t in state.values()):
        return {k: v.contiguous() for k, v in state.items()}, None
    from torchao.prototype.safetensors.safetensors_support import flatten_tensor_state_dict

    tensors, metadata = flatten_tensor_state_dict(state)
    return {k: v.contiguous() for k, v in tensors.items()}, metadata


def save_safetensors(model: nn.Module, path: str | os.PathLike) -> int:
    """Save the model's tensors to a safetensors file (int8 codes and float scales for a
    quantized model); returns the file's size in bytes."""
    from safetensors.torch import save_file

    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {path.parent} does not exist.")
    tensors, metadata = _flat_state(_check_model(model))
    save_file(tensors, str(path), metadata=metadata)
    return path.stat().st_size


def load_safetensors(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a file written by :func:`save_safetensors` into ``model`` (built with the same
    structure, e.g. by :func:`quantize_model`); returns ``model``. Only the tensors that
    share storage with a loaded one (tied weights) may be absent from the file."""
    from safetensors.torch import load_file

    _check_model(model)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file {path}: write it with save_safetensors(model, path).")
    state = load_file(str(path))
    own = model.state_dict()
    unexpected = sorted(set(state) - set(own))
    if unexpected:
        raise ValueError(f"the file holds tensors the model does not have, e.g. "
                         f"{unexpected[:3]}: quantize the model the same way before loading.")
    for name, tensor in state.items():
        if own[name].shape != tensor.shape or own[name].dtype != tensor.dtype:
            raise ValueError(f"{name}: the file holds {tensor.dtype} {tuple(tensor.shape)}, "
                             f"the model {own[name].dtype} {tuple(own[name].shape)}.")
    loaded = {own[n].data_ptr() for n in state}
    missing = [n for n in own if n not in state and own[n].data_ptr() not in loaded]
    if missing:
        raise ValueError(f"the file lacks {missing[:3]} (and shares no storage with them).")
    model.load_state_dict(state, strict=False)
    return model


def _check_ids(input_ids: object, name: str = "input_ids") -> torch.Tensor:
    if not isinstance(input_ids, torch.Tensor) or input_ids.dtype != torch.long:
        raise TypeError(f"{name} must be a LongTensor of token ids, got "
                        f"{getattr(input_ids, 'dtype', type(input_ids).__name__)}.")
    if input_ids.dim() == 2 and input_ids.shape[0] == 1:
        input_ids = input_ids[0]
    if input_ids.dim() != 1:
        raise ValueError(f"{name} must be one sequence, shape (T,) or (1, T), got "
                         f"{tuple(input_ids.shape)}.")
    return input_ids


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")
    return value


@torch.no_grad()
def perplexity(model: nn.Module, input_ids: torch.Tensor, *, window: int = 512) -> float:
    """Perplexity of a causal LM on one token sequence: ``exp`` of the mean next-token
    cross-entropy, over non-overlapping windows of ``window`` tokens (each window is read
    from its own start, so its first token is not predicted)."""
    ids = _check_ids(input_ids)
    window = _check_count("window", window, 2)
    if ids.numel() < 2:
        raise ValueError("input_ids needs at least two tokens to predict one.")
    total, count = 0.0, 0
    for start in range(0, ids.numel() - 1, window):
        chunk = ids[start:start + window][None].to(_device(model))
        if chunk.shape[1] < 2:
            break
        logits = _check_model(model)(chunk).logits.float()
        total += float(F.cross_entropy(logits[0, :-1], chunk[0, 1:], reduction="sum"))
        count += chunk.shape[1] - 1
    return math.exp(total / count)


def _device(model: nn.Module) -> torch.device:
    tensor = next(iter([*model.parameters(), *model.buffers()]), None)
    return tensor.device if tensor is not None else torch.device("cpu")


class GenerationSpeed(NamedTuple):
    """What :func:`generation_speed` measured: ``new_tokens`` generated in ``seconds``."""

    new_tokens: int
    seconds: float
    tokens_per_second: float
    output_ids: torch.Tensor


@torch.no_grad()
def generation_speed(model: nn.Module, input_ids: torch.Tensor, *, new_tokens: int = 32,
                     warmup: int = 4) -> GenerationSpeed:
    """Time greedy ``model.generate`` (KV cache on) producing exactly ``new_tokens`` tokens
    after the prompt ``input_ids`` (the prompt's forward pass included), after a warm-up
    run of ``warmup`` tokens (0: none). Timings vary with the machine and its load: compare
    models by the ratio of their rates, measured back to back."""
    ids = _check_ids(input_ids)[None].to(_device(_check_model(model)))
    new_tokens = _check_count("new_tokens", new_tokens, 1)
    warmup = _check_count("warmup", warmup, 0)

    pad = model.generation_config.pad_token_id
    if pad is None:
        eos = model.generation_config.eos_token_id
        pad = eos[0] if isinstance(eos, (list, tuple)) else eos

    def run(n: int) -> torch.Tensor:
        return model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                              max_new_tokens=n, min_new_tokens=n, pad_token_id=pad)

    if warmup:
        run(warmup)
    start = time.perf_counter()
    out = run(new_tokens)
    seconds = time.perf_counter() - start
    return GenerationSpeed(new_tokens, seconds, new_tokens / seconds, out[0, ids.shape[1]:])
