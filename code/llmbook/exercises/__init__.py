"""Graders of the chapters' code exercises, grouped by the concept they grade.

A notebook writes ``from llmbook import exercises`` and calls ``exercises.check_...(fn)``:
each grader runs the reader's function on small seeded inputs, prints one helpful message
and returns a :class:`Feedback` (truthy when right); a wrong answer never raises.

* :mod:`._feedback` -- :class:`Feedback` and the loop over test cases every grader uses;
* :mod:`.attention`, :mod:`.embeddings`, :mod:`.language_models`, :mod:`.tokenization`,
  :mod:`.losses`, :mod:`.gradients`, :mod:`.transformer`, :mod:`.parameter_counts`,
  :mod:`.training`, :mod:`.classification`, :mod:`.environment`, :mod:`.generation`, :mod:`.decoding`, :mod:`.quantization`, :mod:`.peft`, :mod:`.retrieval`, :mod:`.ner`, :mod:`.text_metrics`, :mod:`.modern` -- the graders. A new exercise's grader goes in the module of its
  concept (or a new one, re-exported here).
"""

from ._feedback import Feedback
from .attention import (check_additive_attention, check_causal_mask,
                        check_scaled_dot_product_attention, check_target_mask,
                        check_worked_example)
from .classification import check_calibrated_predictions, check_macro_f1
from .decoding import check_kv_cache_size, check_top_p_filter
from .embeddings import check_mean_pooling, check_positional_encoding
from .environment import check_exact_pins
from .generation import (check_generate_reply, check_left_padding, check_new_tokens_only,
                         check_predict_logits)
from .extraction import check_triple_scores
from .gradients import check_softmax_backward
from .language_models import check_bigram_probabilities, check_perplexity
from .modern import check_rms_norm, check_rope
from .losses import check_contrastive_info_nce, check_info_nce_formula, check_lm_nll
from .peft import check_lora_linear, check_soft_prompt
from .ner import check_entity_f1
from .parameter_counts import (check_bert_parameter_count, check_gpt_parameter_count,
                               check_mha_parameter_count, check_model_memory,
                               check_transformer_parameter_count)
from .quantization import check_int8_quantize
from .retrieval import check_mrr, check_recall_at_k
from .text_metrics import check_brevity_penalty, check_rouge_n
from .tokenization import check_bpe_step
from .training import check_freeze_body, check_warmup_cosine
from .transformer import check_encoder_layer, check_pre_ln_layer

__all__ = [
    "Feedback",
    "check_scaled_dot_product_attention", "check_additive_attention", "check_causal_mask",
    "check_target_mask", "check_worked_example",
    "check_positional_encoding", "check_mean_pooling",
    "check_bigram_probabilities", "check_perplexity",
    "check_bpe_step",
    "check_lm_nll", "check_info_nce_formula", "check_contrastive_info_nce",
    "check_softmax_backward",
    "check_encoder_layer", "check_pre_ln_layer",
    "check_mha_parameter_count", "check_bert_parameter_count",
    "check_transformer_parameter_count", "check_gpt_parameter_count", "check_model_memory",
    "check_warmup_cosine", "check_freeze_body",
    "check_macro_f1", "check_calibrated_predictions", "check_exact_pins",
    "check_new_tokens_only", "check_left_padding", "check_predict_logits",
    "check_generate_reply",
    "check_top_p_filter", "check_kv_cache_size", "check_int8_quantize",
    "check_lora_linear", "check_soft_prompt",
    "check_recall_at_k", "check_mrr", "check_entity_f1",
    "check_rouge_n", "check_brevity_penalty",
    "check_rms_norm", "check_rope",
    "check_triple_scores",
]
