"""llmbook.attention_scaling: the variance experiment behind sqrt(d_k)."""

import pytest

from llmbook import attention_scaling


def test_softmax_saturation():
    r = attention_scaling.softmax_saturation([4, 256], num_keys=8, num_queries=500)
    assert r["d_k"] == [4, 256]
    assert r["var_raw"][1] > 150 and abs(r["var_scaled"][1] - 1) < 0.2
    assert r["max_weight_raw"][1] > 0.9 > r["max_weight_scaled"][1]
    assert r["jacobian_norm_raw"][1] < r["jacobian_norm_scaled"][1]
    with pytest.raises(ValueError):
        attention_scaling.softmax_saturation([])
    with pytest.raises(ValueError):
        attention_scaling.softmax_saturation([4], num_keys=1)
