"""Tests of llmbook.positional."""

import math

import pytest
import torch

from llmbook.positional import (SinusoidalPositionalEncoding, relative_offset_check,
                                sinusoidal_encoding)


def test_table_values():
    pe = sinusoidal_encoding(10, 6)
    assert pe.shape == (10, 6)
    assert pe[0].tolist() == [0, 1, 0, 1, 0, 1]
    assert math.isclose(pe[3, 2], math.sin(3 / 10000 ** (2 / 6)), rel_tol=1e-6)
    assert math.isclose(pe[3, 3], math.cos(3 / 10000 ** (2 / 6)), rel_tol=1e-6)


def test_relative_offsets_are_linear():
    assert relative_offset_check(sinusoidal_encoding(60, 16), 5) < 1e-6


def test_module_adds_table():
    module = SinusoidalPositionalEncoding(8, max_len=20)
    x = torch.zeros(2, 5, 8)
    torch.testing.assert_close(module(x)[1], sinusoidal_encoding(5, 8))


@pytest.mark.parametrize("args", [(0, 4), (4, 3), (4.0, 4)])
def test_errors(args):
    with pytest.raises(ValueError):
        sinusoidal_encoding(*args)


def test_module_errors():
    with pytest.raises(ValueError, match="max_len"):
        SinusoidalPositionalEncoding(4, max_len=3)(torch.zeros(1, 5, 4))
    with pytest.raises(ValueError, match="d_model=4"):
        SinusoidalPositionalEncoding(4)(torch.zeros(1, 5, 3))
