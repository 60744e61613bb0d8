"""llmbook.exercises.transformer: the encoder-layer and pre-LN graders."""

from llmbook import exercises as ex


def _stub(*args):
    raise NotImplementedError


def _post_ln(layer, x, mask):
    x = layer.norm1(x + layer.self_attn(x, x, x, mask))
    return layer.norm2(x + layer.feed_forward(x))


def _pre_ln(layer, x, mask):
    h = layer.norm1(x)
    x = x + layer.self_attn(h, h, h, mask)
    return x + layer.feed_forward(layer.norm2(x))


def test_check_encoder_layer_messages(capsys):
    assert ex.check_encoder_layer(_post_ln)
    assert not ex.check_encoder_layer(_pre_ln)
    assert "PRE-LN" in capsys.readouterr().out
    assert not ex.check_encoder_layer(lambda layer, x, mask: _post_ln(layer, x, None))
    assert "WITHOUT the mask" in capsys.readouterr().out
    assert not ex.check_encoder_layer(lambda layer, x, mask: x[:, :2])
    assert "shape" in capsys.readouterr().out
    assert not ex.check_encoder_layer(_stub)


def test_pre_ln():
    assert ex.check_pre_ln_layer(lambda x, a, f, n1, n2: (lambda h: h + f(n2(h)))(x + a(n1(x))))
    post = ex.check_pre_ln_layer(lambda x, a, f, n1, n2: (lambda h: n2(h + f(h)))(n1(x + a(x))))
    assert not post and "post-LN" in post.message
