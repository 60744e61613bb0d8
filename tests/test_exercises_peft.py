"""llmbook.exercises.peft: the LoRA-layer and soft-prompt graders."""

import math

import torch
import torch.nn as nn

from llmbook.exercises import peft as ex
from llmbook.lora import LoRALinear
from llmbook.prompt_tuning import prepend_prompt


def _stub(*args):
    raise NotImplementedError


class Right(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.scale, self.merged = base, alpha / r, False
        base.requires_grad_(False)
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, x):
        out = self.base(x)
        return out if self.merged else out + self.scale * x @ self.lora_A.T @ self.lora_B.T

    @torch.no_grad()
    def merge(self):
        self.base.weight += self.scale * self.lora_B @ self.lora_A
        self.merged = True


def variant(**changes):
    """A subclass of Right with one mistake."""
    return type("Wrong", (Right,), changes)


def test_the_books_layer_and_a_right_answer_pass():
    assert ex.check_lora_linear(LoRALinear)
    assert ex.check_lora_linear(Right)


def test_usual_mistakes_get_their_message(capsys):
    def init_b_random(self, base, r, alpha):
        Right.__init__(self, base, r, alpha)
        nn.init.normal_(self.lora_B)

    def init_a_zero(self, base, r, alpha):
        Right.__init__(self, base, r, alpha)
        nn.init.zeros_(self.lora_A)

    def base_trainable(self, base, r, alpha):
        Right.__init__(self, base, r, alpha)
        base.requires_grad_(True)

    def transposed(self, base, r, alpha):
        Right.__init__(self, base, r, alpha)
        self.lora_A = nn.Parameter(torch.zeros(base.in_features, r))

    def no_scaling(self, x):
        return self.base(x) + x @ self.lora_A.T @ self.lora_B.T

    def twice_after_merge(self, x):
        return self.base(x) + self.scale * x @ self.lora_A.T @ self.lora_B.T

    def detached(self, x):
        return self.base(x) + self.scale * (x @ self.lora_A.T @ self.lora_B.T).detach()

    cases = [(variant(__init__=init_b_random), "start lora_B at zero"),
             (variant(__init__=init_a_zero), "lora_A is all zeros"),
             (variant(__init__=base_trainable), "must be frozen"),
             (variant(__init__=transposed), "transposed"),
             (variant(forward=no_scaling), "scaled by 1"),
             (variant(forward=twice_after_merge), "second time"),
             (variant(forward=detached), "backpropagation"),
             (variant(merge=lambda self: None), "must change base.weight"),
             (_stub, "NotImplementedError")]
    for cls, words in cases:
        capsys.readouterr()
        assert not ex.check_lora_linear(cls), words
        out = capsys.readouterr().out
        assert words in out, (words, out)
    assert not ex.check_lora_linear(42)


def test_soft_prompt_grader(capsys):
    assert ex.check_soft_prompt(prepend_prompt)

    def at_the_end(embeds, mask, prompt):
        p = prompt.expand(len(embeds), -1, -1)
        return torch.cat([embeds, p], 1), torch.cat([mask, torch.ones_like(mask[:, :len(prompt)])], 1)

    def mask_unchanged(embeds, mask, prompt):
        return prepend_prompt(embeds, mask, prompt)[0], mask

    def mask_zeros(embeds, mask, prompt):
        out, new = prepend_prompt(embeds, mask, prompt)
        new[:, :len(prompt)] = 0
        return out, new

    for fn, words in ((at_the_end, "at the end"), (mask_unchanged, "columns"),
                      (mask_zeros, "must be 1"), (lambda e, m, p: e, "pair"),
                      (_stub, "NotImplementedError")):
        capsys.readouterr()
        assert not ex.check_soft_prompt(fn)
        assert words in capsys.readouterr().out, words
