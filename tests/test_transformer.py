"""Tests of llmbook.transformer: equality with torch.nn.Transformer, masks, clear errors,
and the graders of llmbook.exercises_transformer."""

import warnings

import pytest
import torch
from torch import nn

from llmbook import exercises_transformer as ex
from llmbook.attention import causal_mask, padding_mask
from llmbook.transformer import (Decoder, DecoderLayer, Encoder, EncoderLayer,
                                 PositionwiseFeedForward, TokenEmbedding, Transformer,
                                 count_parameters, source_mask, target_mask, to_torch_masks,
                                 torch_reference)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


SRC = torch.tensor([[5, 6, 7, 8, 2, 0], [5, 9, 2, 0, 0, 0], [4, 4, 4, 4, 4, 2]])
TGT = torch.tensor([[1, 8, 7, 6, 5], [1, 9, 5, 0, 0], [1, 4, 4, 0, 0]])


def _pair(norm_first: bool, d_model=32, heads=4, n_enc=2, n_dec=3, d_ff=48):
    reference = torch_reference(d_model, heads, n_enc, n_dec, d_ff, norm_first=norm_first)
    ours = Transformer(12, 12, d_model, heads, n_enc, n_dec, d_ff, dropout=0.0,
                       norm_first=norm_first).load_from_torch(reference)
    return ours.eval(), reference.eval()


@pytest.mark.parametrize("norm_first", [False, True])
def test_equals_nn_transformer_with_masks_and_padding(norm_first):
    ours, reference = _pair(norm_first)
    x, y = torch.randn(3, 6, 32), torch.randn(3, 5, 32)
    with torch.no_grad():
        expected = reference(x, y, **to_torch_masks(SRC, TGT, 0))
        got = ours.forward_embedded(x, y, source_mask(SRC, 0), target_mask(TGT, 0),
                                    source_mask(SRC, 0))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_equals_nn_transformer_without_masks_and_in_train_mode_without_dropout(norm_first):
    ours, reference = _pair(norm_first)
    ours.train(), reference.train()
    x, y = torch.randn(2, 7, 32), torch.randn(2, 4, 32)
    torch.testing.assert_close(ours.forward_embedded(x, y), reference(x, y), atol=1e-5, rtol=0)


def test_encoder_and_decoder_layers_equal_torch_layers():
    ours, reference = _pair(False)
    x = torch.randn(3, 6, 32)
    with torch.no_grad():
        enc = ours.encoder.layers[0](x, source_mask(SRC, 0))
        ref = reference.encoder.layers[0](x, src_key_padding_mask=SRC == 0)
    torch.testing.assert_close(enc[SRC != 0], ref[SRC != 0], atol=1e-5, rtol=0)


def test_token_embedding_is_scaled():
    emb = TokenEmbedding(10, 16)
    ids = torch.tensor([[1, 2, 3]])
    torch.testing.assert_close(emb(ids), emb.lookup(ids) * 4.0)
    with pytest.raises(ValueError, match="integer token ids"):
        emb(torch.randn(1, 3))
    with pytest.raises(ValueError, match=r"lie in \[0, 9\]"):
        emb(torch.tensor([[3, 10]]))


def test_feed_forward_shapes_and_errors():
    ffn = PositionwiseFeedForward(8, 32)
    assert ffn(torch.randn(2, 5, 8)).shape == (2, 5, 8)
    with pytest.raises(ValueError, match="d_model=8"):
        ffn(torch.randn(2, 5, 7))
    with pytest.raises(ValueError, match="dropout"):
        PositionwiseFeedForward(8, 32, dropout=1.5)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="divisible"):
        EncoderLayer(30, 4, 64)
    with pytest.raises(ValueError, match="divisible"):
        Transformer(10, 10, d_model=30, num_heads=4)
    with pytest.raises(ValueError, match="positive int"):
        Encoder(EncoderLayer(16, 2, 32), 0)
    with pytest.raises(TypeError, match="EncoderLayer"):
        Encoder(DecoderLayer(16, 2, 32), 2)
    with pytest.raises(TypeError, match="DecoderLayer"):
        Decoder(EncoderLayer(16, 2, 32), 2)


def test_wrong_shapes_and_wrong_mask_sizes_are_explained():
    layer = EncoderLayer(16, 2, 32).eval()
    with pytest.raises(ValueError, match=r"\(batch, length, d_model=16\)"):
        layer(torch.randn(5, 16))
    with pytest.raises(TypeError, match="torch.Tensor"):
        layer([[0.0] * 16])
    with pytest.raises(ValueError, match="keys dimension is 4, expected 5"):
        layer(torch.randn(2, 5, 16), padding_mask([4, 3]))
    with pytest.raises(ValueError, match="queries dimension is 6"):
        layer(torch.randn(2, 5, 16), causal_mask(6))
    with pytest.raises(ValueError, match="batch dimension is 3"):
        layer(torch.randn(2, 5, 16), padding_mask([5, 3, 2]))
    dec = DecoderLayer(16, 2, 32).eval()
    with pytest.raises(ValueError, match="same batch size"):
        dec(torch.randn(2, 4, 16), torch.randn(3, 5, 16))
    with pytest.raises(ValueError, match="memory_mask"):
        dec(torch.randn(2, 4, 16), torch.randn(2, 5, 16), causal_mask(4), padding_mask([6, 2]))
    model = Transformer(12, 12, 16, 2, 1, 1, 32)
    with pytest.raises(ValueError, match="same batch"):
        model(SRC, TGT[:2])
    with pytest.raises(ValueError, match="batch, length"):
        source_mask(torch.tensor([1, 2]), 0)
    with pytest.raises(ValueError, match="batch, length"):
        target_mask(torch.tensor([1, 2]), 0)


def test_masks():
    src_mask = source_mask(SRC, 0)
    assert src_mask.shape == (3, 1, 1, 6)
    assert src_mask[1, 0, 0].tolist() == [True, True, True, False, False, False]
    tgt_mask = target_mask(TGT, 0)
    assert tgt_mask.shape == (3, 1, 5, 5)
    assert tgt_mask[0, 0].equal(causal_mask(5))
    assert tgt_mask[1, 0, 4].tolist() == [True, True, True, False, False]


def test_load_from_torch_rejects_mismatches():
    model = Transformer(12, 12, 32, 4, 2, 3, 48)
    with pytest.raises(TypeError, match="nn.Transformer"):
        model.load_from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="shape mismatch"):
        model.load_from_torch(torch_reference(32, 4, 1, 3, 48))
    with pytest.raises(ValueError, match="norm_first"):
        model.load_from_torch(torch_reference(32, 4, 2, 3, 48, norm_first=True))


def test_torch_reference_emits_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch_reference(16, 2, 1, 1, 32, norm_first=True)


def test_parameter_count_matches_nn_transformer_plus_embeddings_and_output():
    model = Transformer(12, 13, 32, 4, 2, 3, 48)
    reference = torch_reference(32, 4, 2, 3, 48)
    extra = 12 * 32 + 13 * 32 + 32 * 13 + 13
    assert count_parameters(model) == count_parameters(reference) + extra
    with pytest.raises(TypeError):
        count_parameters("model")


def test_greedy_decode_and_attention_weights():
    model = Transformer(12, 12, 16, 2, 1, 2, 32, dropout=0.1)
    model.train()
    out = model.greedy_decode(SRC, bos_id=1, eos_id=2, max_len=4)
    assert model.training  # the mode is restored
    assert out.shape[0] == 3 and out.shape[1] <= 4
    weights = model.attention_weights()
    assert len(weights["encoder"]) == 1 and len(weights["cross"]) == 2
    assert weights["cross"][0].shape[-1] == SRC.size(1)
    with pytest.raises(ValueError, match="max_len"):
        model.greedy_decode(SRC, 1, 2, max_len=0)


def test_greedy_decode_pads_after_eos():
    model = Transformer(5, 5, 16, 2, 1, 1, 32, dropout=0.0).eval()
    with torch.no_grad():  # force the output layer to always predict <eos> (id 2)
        model.output.weight.zero_()
        model.output.bias.copy_(torch.tensor([0.0, 0.0, 5.0, 0.0, 0.0]))
    out = model.greedy_decode(torch.tensor([[3, 4, 2]]), 1, 2, max_len=5)
    assert out.tolist() == [[2]]


# ---- graders -------------------------------------------------------------------------

def test_check_causal_mask_messages(capsys):
    assert ex.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril())
    assert not ex.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).triu())
    assert "transposed" in capsys.readouterr().out
    assert not ex.check_causal_mask(lambda n: ~torch.ones(n, n, dtype=torch.bool).tril())
    assert "opposite" in capsys.readouterr().out
    assert not ex.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril(-1))
    out = capsys.readouterr().out
    assert "diagonal" in out or "size=1" in out
    assert not ex.check_causal_mask(lambda n: torch.ones(n, n).tril())
    assert "boolean" in capsys.readouterr().out
    assert not ex.check_causal_mask(lambda n: None)
    assert not ex.check_causal_mask(42)


def _stub(*args):
    raise NotImplementedError


def test_check_target_mask_messages(capsys):
    assert ex.check_target_mask(lambda t, p: target_mask(t, p))
    assert not ex.check_target_mask(lambda t, p: causal_mask(t.size(1)))
    assert "padding" in capsys.readouterr().out
    assert not ex.check_target_mask(lambda t, p: (t != p)[:, None, None, :])
    assert "future" in capsys.readouterr().out
    assert not ex.check_target_mask(lambda t, p: torch.ones(3, 3, dtype=torch.bool))
    assert "broadcast" in capsys.readouterr().out
    assert not ex.check_target_mask(_stub)
    assert "NotImplementedError" in capsys.readouterr().out


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


def test_check_transformer_parameter_count_messages(capsys):
    def right(d, h, ff, n_enc, n_dec):
        attn, ffn, norm = 4 * d * d + 4 * d, 2 * d * ff + ff + d, 2 * d
        return n_enc * (attn + ffn + 2 * norm) + n_dec * (2 * attn + ffn + 3 * norm) + 2 * norm

    assert ex.check_transformer_parameter_count(right)
    assert "44,140,544" in capsys.readouterr().out
    assert not ex.check_transformer_parameter_count(lambda *s: right(*s) - 4 * s[0])
    assert "final LayerNorm" in capsys.readouterr().out
    assert not ex.check_transformer_parameter_count(lambda *s: "many")
    assert not ex.check_transformer_parameter_count(None)
