"""llmbook.prompt_tuning: soft prompts from scratch, checked against peft."""

import copy
import warnings

import pytest
import torch
import torch.nn as nn
from transformers import BertConfig, BertForSequenceClassification

from llmbook import lora
from llmbook import prompt_tuning as pt


def tiny_classifier(seed=0):
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=48, num_labels=2,
                        max_position_embeddings=24)
    return BertForSequenceClassification(config).eval()


def batch(length=9):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 120, (3, length), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    return ids, mask


def peft_prompt(model, n):
    import peft
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return peft.get_peft_model(copy.deepcopy(model), peft.PromptTuningConfig(
            task_type="SEQ_CLS", num_virtual_tokens=n)).eval()


def test_prepend_prompt():
    embeds, mask = torch.randn(2, 4, 3), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    prompt = torch.randn(5, 3)
    out, new_mask = pt.prepend_prompt(embeds, mask, prompt)
    assert out.shape == (2, 9, 3) and new_mask.shape == (2, 9)
    assert torch.equal(out[:, :5], prompt.expand(2, 5, 3)) and torch.equal(out[:, 5:], embeds)
    assert new_mask[:, :5].eq(1).all() and torch.equal(new_mask[:, 5:], mask)
    assert pt.prepend_prompt(embeds, None, prompt)[1] is None
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        pt.prepend_prompt(embeds, mask, torch.randn(5, 4))
    with pytest.raises(ValueError, match="batch, length, d"):
        pt.prepend_prompt(torch.randn(4, 3), mask, prompt)
    with pytest.raises(ValueError, match="attention_mask must have shape"):
        pt.prepend_prompt(embeds, mask[:, :2], prompt)


def test_freezes_the_model_but_the_head_and_counts_like_peft():
    base = tiny_classifier()
    model = pt.PromptTuningClassifier(copy.deepcopy(base), n_tokens=6).eval()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"prompt", "model.classifier.weight", "model.classifier.bias"}
    expected = 6 * 32 + 32 * 2 + 2
    assert model.parameter_counts()[0] == expected
    ref = peft_prompt(base, 6)
    assert ref.get_nb_trainable_parameters()[0] == expected
    assert model.config is model.model.config and "n_tokens=6" in repr(model)


def test_same_logits_as_peft_and_gradients_reach_the_prompt():
    base = tiny_classifier()
    model = pt.PromptTuningClassifier(copy.deepcopy(base), n_tokens=4, init="random").eval()
    ref = peft_prompt(base, 4)
    assert pt.copy_prompt_to_peft(model, ref) == 3
    ids, mask = batch()
    for extra in ({}, {"token_type_ids": torch.zeros_like(ids)}):
        ours = model(input_ids=ids, attention_mask=mask, **extra).logits
        theirs = ref(input_ids=ids, attention_mask=mask, **extra).logits
        assert (ours - theirs).abs().max() < 1e-6
    out = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1, 1]))
    out.loss.backward()
    assert model.prompt.grad is not None and model.prompt.grad.abs().sum() > 0
    assert all(p.grad is None for n, p in model.model.named_parameters()
               if not n.startswith("classifier"))


def test_vocab_init_copies_real_embeddings_and_is_seeded():
    base = tiny_classifier()
    a = pt.PromptTuningClassifier(copy.deepcopy(base), 5, seed=3)
    b = pt.PromptTuningClassifier(copy.deepcopy(base), 5, seed=3)
    assert torch.equal(a.prompt, b.prompt)
    table = base.get_input_embeddings().weight
    assert all((table - row).abs().sum(1).min() == 0 for row in a.prompt.detach())


def test_head_can_be_frozen_too():
    model = pt.PromptTuningClassifier(tiny_classifier(), 3, modules_to_save=())
    assert lora.count_parameters(model)[0] == 3 * 32


def test_errors_are_clear():
    with pytest.raises(ValueError, match="at least 1"):
        pt.PromptTuningClassifier(tiny_classifier(), 0)
    with pytest.raises(TypeError, match="int"):
        pt.PromptTuningClassifier(tiny_classifier(), 2.0)
    with pytest.raises(ValueError, match="init must be one of"):
        pt.PromptTuningClassifier(tiny_classifier(), 2, init="text")
    with pytest.raises(ValueError, match="no room"):
        pt.PromptTuningClassifier(tiny_classifier(), 24)
    with pytest.raises(TypeError, match="input embedding"):
        pt.PromptTuningClassifier(nn.Linear(3, 3), 2)
    with pytest.raises(ValueError, match="no module"):
        pt.PromptTuningClassifier(tiny_classifier(), 2, modules_to_save=("head",))
    model = pt.PromptTuningClassifier(tiny_classifier(), 20)
    with pytest.raises(ValueError, match="truncate"):
        model(input_ids=batch(length=9)[0])
    with pytest.raises(ValueError, match="batch, length"):
        model(input_ids=torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="input_ids only"):
        model(input_ids=batch(length=2)[0], position_ids=torch.arange(2))
    with pytest.raises(TypeError, match="PromptTuningClassifier"):
        pt.copy_prompt_to_peft(tiny_classifier(), tiny_classifier())
    with pytest.raises(ValueError, match="prompt encoder"):
        pt.copy_prompt_to_peft(model, tiny_classifier())
    with pytest.raises(ValueError, match="num_virtual_tokens = 20"):
        pt.copy_prompt_to_peft(model, peft_prompt(tiny_classifier(), 3))
