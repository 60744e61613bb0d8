"""What this CPU can do: instruction sets and measured matrix-multiply throughput.

Speed claims depend on the reader's processor. Section 3.4 measures mixed precision with
these functions and states its result for the CPU it ran on, instead of as a universal fact:
bfloat16 is fast only where the CPU has bf16 matrix instructions (Intel AMX, AVX512-BF16).
"""

from __future__ import annotations

import math
import pathlib
import platform
import time

import torch

__all__ = ["cpu_features", "matmul_gflops", "measure_peak_flops"]

# /proc/cpuinfo flags that matter for 16-bit matrix products, with readable names.
_FLAGS = {"amx_bf16": "AMX-BF16", "amx_tile": "AMX tiles", "avx512_bf16": "AVX512-BF16",
          "avx512_fp16": "AVX512-FP16", "avx512f": "AVX-512", "avx2": "AVX2"}


def cpu_features(cpuinfo: str | None = None) -> dict:
    """The CPU's name, PyTorch's kernel choice, and the 16-bit-relevant instruction sets.

    ``cpuinfo`` is the text of ``/proc/cpuinfo`` (read on Linux when not given; elsewhere
    the flags are unknown and reported as such). Returns ``{"name", "capability",
    "flags", "bf16_matrix_hardware"}``; ``bf16_matrix_hardware`` is True with AMX-BF16 or
    AVX512-BF16, False when the flags were read and have neither, None when unknown.
    """
    if cpuinfo is None:
        path = pathlib.Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.exists() else ""
    if not isinstance(cpuinfo, str):
        raise TypeError(f"cpuinfo must be the text of /proc/cpuinfo, got "
                        f"{type(cpuinfo).__name__}.")
    name, flags = platform.processor() or platform.machine(), None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            name = value.strip()
        if key.strip() in ("flags", "Features") and flags is None:
            flags = set(value.split())
    present = None if flags is None else [label for flag, label in _FLAGS.items()
                                          if flag in flags]
    bf16 = None if flags is None else bool({"amx_bf16", "avx512_bf16"} & flags)
    return {"name": name, "capability": torch.backends.cpu.get_cpu_capability(),
            "flags": present, "bf16_matrix_hardware": bf16}


def matmul_gflops(dtype: torch.dtype = torch.float32, n: int = 1024, *,
                  repeats: int = 10, warmup: int = 2) -> float:
    """Measured GFLOP/s of an ``n x n`` by ``n x n`` matrix product in ``dtype`` on the CPU.

    Counts ``2 n^3`` floating-point operations per product and takes the best of
    ``repeats`` timings (after ``warmup`` untimed runs), so a busy machine disturbs it less.
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}.")
    for label, value, least in (("n", n, 1), ("repeats", repeats, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{label} must be an int >= {least}, got {value!r}.")
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(dtype)
    b = torch.randn(n, n, generator=gen).to(dtype)
    for _ in range(warmup):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def measure_peak_flops(device: str = "cpu") -> float:
    """A measured float32 matrix-multiply peak in FLOP/s, the denominator of an MFU: on the
    CPU :func:`matmul_gflops` (1024 x 1024, best of 10); on a GPU the best of ten 4096 x 4096
    products."""
    if device == "cpu":
        return matmul_gflops(torch.float32, n=1024, repeats=10) * 1e9
    a = torch.randn(4096, 4096, device=device)
    best = math.inf
    for i in range(12):
        torch.cuda.synchronize()
        start = time.perf_counter()
        a @ a
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start) if i >= 2 else best
    return 2 * 4096 ** 3 / best
