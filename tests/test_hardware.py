"""Tests of llmbook.hardware: CPU flags parsing and the matmul benchmark's checks."""

import pytest
import torch

from llmbook import hardware

AMX = "model name\t: Intel(R) Xeon(R) Platinum\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
OLD = "model name\t: Old CPU\nflags\t\t: fpu sse4_2 avx2\n"


def test_cpu_features_reads_flags():
    amx = hardware.cpu_features(AMX)
    assert amx["name"] == "Intel(R) Xeon(R) Platinum"
    assert amx["flags"] == ["AMX-BF16", "AMX tiles", "AVX512-BF16", "AVX-512", "AVX2"]
    assert amx["bf16_matrix_hardware"] is True
    old = hardware.cpu_features(OLD)
    assert old["flags"] == ["AVX2"] and old["bf16_matrix_hardware"] is False
    assert hardware.cpu_features("")["bf16_matrix_hardware"] is None   # not Linux: unknown
    assert hardware.cpu_features()["capability"] == torch.backends.cpu.get_cpu_capability()


def test_cpu_features_rejects_non_text():
    with pytest.raises(TypeError, match="/proc/cpuinfo"):
        hardware.cpu_features(b"flags: avx2")


def test_matmul_gflops_is_positive_and_checks_arguments():
    assert hardware.matmul_gflops(torch.float32, 64, repeats=2, warmup=0) > 0
    with pytest.raises(TypeError, match="floating-point"):
        hardware.matmul_gflops(torch.int32)
    with pytest.raises(ValueError, match="n must be"):
        hardware.matmul_gflops(torch.float32, 0)
    with pytest.raises(ValueError, match="repeats"):
        hardware.matmul_gflops(torch.float32, 8, repeats=0)
