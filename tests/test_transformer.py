"""Tests of llmbook.transformer: equality with torch.nn.Transformer and its layers (post-LN
and pre-LN), masks, clear errors."""

import warnings

import pytest
import torch
from torch import nn

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


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_loads_torch_weights_post_and_pre_ln(norm_first):
    torch_layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True,
                                             norm_first=norm_first).eval()
    ours = EncoderLayer(16, 4, 32, dropout=0.0, norm_first=norm_first).load_from_torch(torch_layer)
    x = torch.randn(2, 6, 16)
    torch.testing.assert_close(ours(x), torch_layer(x), atol=1e-5, rtol=0)
    mask = causal_mask(6)
    torch.testing.assert_close(ours(x, mask), torch_layer(x, src_mask=~mask),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_loads_torch_weights_post_and_pre_ln(norm_first):
    torch_layer = nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, batch_first=True,
                                             norm_first=norm_first).eval()
    ours = DecoderLayer(16, 4, 32, dropout=0.0, norm_first=norm_first).load_from_torch(torch_layer)
    y, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    expected = torch_layer(y, memory, tgt_mask=~causal_mask(5))
    torch.testing.assert_close(ours(y, memory, causal_mask(5)), expected, atol=1e-5, rtol=0)


def test_layer_norm_first_and_load_errors():
    with pytest.raises(TypeError, match="norm_first"):
        EncoderLayer(16, 4, 32, dropout=0.0, norm_first=1)
    with pytest.raises(TypeError, match="norm_first"):
        DecoderLayer(16, 4, 32, dropout=0.0, norm_first="yes")
    with pytest.raises(ValueError, match="norm_first differs"):
        EncoderLayer(16, 4, 32).load_from_torch(
            nn.TransformerEncoderLayer(16, 4, 32, norm_first=True))
    with pytest.raises(ValueError, match="norm_first differs"):
        DecoderLayer(16, 4, 32).load_from_torch(
            nn.TransformerDecoderLayer(16, 4, 32, norm_first=True))
    with pytest.raises(TypeError):
        EncoderLayer(16, 4, 32).load_from_torch(nn.Linear(2, 2))
    with pytest.raises(TypeError):
        DecoderLayer(16, 4, 32).load_from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="d_ff"):
        EncoderLayer(16, 4, 32).load_from_torch(nn.TransformerEncoderLayer(16, 4, 64))
    with pytest.raises(ValueError, match="same batch size"):
        DecoderLayer(16, 4, 32)(torch.randn(2, 5, 16), torch.randn(3, 5, 16))
    with pytest.raises(ValueError):
        PositionwiseFeedForward(16, 0)
