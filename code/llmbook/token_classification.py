"""Token classification for named-entity recognition (section 6.2): a character-level BiLSTM
tagger trained from scratch, a dictionary (gazetteer) baseline, and the corpus split.

* :data:`NER_TAGS` -- the seven BIO tags of :func:`llmbook.resources.peoples_daily_ner`;
* :func:`split_sentences` -- train / validation / test as three *contiguous* blocks of the
  corpus (whole articles are held out, so a sentence repeated within an article cannot
  appear on both sides);
* :class:`CharVocab` -- characters to ids (``0`` padding, ``1`` unknown), built from the
  training split only;
* :class:`BiLSTMTagger` -- embedding, a bidirectional LSTM and a linear layer that scores
  every tag at every character; :func:`train_tagger` (AdamW, linear warm-up and decay,
  length-bucketed batches, gradient clipping, ``tqdm``) and :func:`predict_tags`;
* :class:`Gazetteer` -- every entity string of the training split with its most frequent
  type, tagged onto new text by greedy longest match (forward maximum matching);
* :func:`save_tagger` / :func:`load_tagger` -- a ``safetensors`` file plus a JSON file with
  the configuration and the vocabulary;
* :func:`entity_html` -- one sentence with its gold and predicted entities marked, for the
  page (type written in the mark, so colour is not the only signal).

The scores are :func:`llmbook.ner.entity_scores` (equal to seqeval's).
"""

from __future__ import annotations

import collections
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import torch
from torch import nn

from .classification import length_batches, linear_warmup_lr
from .ner import bio_spans, parse_tag, spans_to_tags

__all__ = ["NER_TAGS", "split_sentences", "CharVocab", "BiLSTMTagger", "encode_batch",
           "TaggerHistory",
           "train_tagger", "predict_tags", "Gazetteer", "save_tagger", "load_tagger",
           "entity_html"]

NER_TAGS: tuple[str, ...] = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")

Sentence = tuple[Sequence[str], Sequence[str]]


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------

def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_sentences(data: object, *, tagged: bool = True) -> list:
    what = ("a list of (chars, tags) pairs, as resources.peoples_daily_ner() returns"
            if tagged else "a list of sentences, each a list of characters (or a str)")
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TypeError(f"data must be {what}; got {type(data).__name__}")
    if not data:
        raise ValueError(f"data is empty: expected {what}")
    out = []
    for i, item in enumerate(data):
        if tagged:
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise TypeError(f"data[{i}] must be a (chars, tags) pair, got {item!r:.80}")
            chars, tags = list(item[0]), list(item[1])
            if len(chars) != len(tags):
                raise ValueError(f"data[{i}] has {len(chars)} characters but {len(tags)} "
                                 f"tags: one tag per character is needed")
            out.append((chars, tags))
        else:
            if isinstance(item, str):
                item = list(item)
            if isinstance(item, bytes) or not isinstance(item, Sequence):
                raise TypeError(f"sentence {i} must be a list of characters or a str, got "
                                f"{type(item).__name__}")
            out.append(list(item))
    return out


# --------------------------------------------------------------------------------------------
# Data: split and vocabulary
# --------------------------------------------------------------------------------------------

def split_sentences(data: Sequence, fractions: tuple[float, float] = (0.1, 0.1)
                    ) -> tuple[list, list, list]:
    """``(train, validation, test)``: the last ``fractions[1]`` of the sentences (in corpus
    order) are the test split, the ``fractions[0]`` before them validation, the rest train.

    Contiguous blocks, not a shuffle: the corpus runs article by article, and news repeats
    itself within an article (the same names, often the same sentence), so a random split
    would let a model -- and above all a dictionary -- meet test sentences in training.
    """
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TypeError(f"data must be a list of sentences, got {type(data).__name__}")
    if not (isinstance(fractions, tuple) and len(fractions) == 2 and
            all(isinstance(f, (int, float)) and 0 < f < 1 for f in fractions) and
            sum(fractions) < 1):
        raise ValueError(f"fractions must be (validation, test), each in (0, 1) and summing "
                         f"to less than 1, got {fractions!r}")
    n = len(data)
    n_val, n_test = round(n * fractions[0]), round(n * fractions[1])
    if min(n_val, n_test, n - n_val - n_test) < 1:
        raise ValueError(f"{n} sentences are too few for fractions {fractions}: every split "
                         f"needs at least one")
    cut_val, cut_test = n - n_val - n_test, n - n_test
    return list(data[:cut_val]), list(data[cut_val:cut_test]), list(data[cut_test:])


class CharVocab:
    """Characters to ids: ``0`` is padding, ``1`` an unknown character, then every character
    seen at least ``min_count`` times, most frequent first (ties in first-seen order)."""

    PAD, UNK = 0, 1

    def __init__(self, chars: Sequence[str]) -> None:
        if isinstance(chars, str) or not all(isinstance(c, str) and c for c in chars):
            raise TypeError("CharVocab needs a list of non-empty str (characters)")
        if len(set(chars)) != len(chars):
            raise ValueError("CharVocab: the characters must be distinct")
        self.chars = ["<pad>", "<unk>"] + [c for c in chars]
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 1) -> "CharVocab":
        """The vocabulary of ``sentences`` (lists of characters, e.g. the training split)."""
        _check_int("min_count", min_count, 1)
        counts = collections.Counter(c for s in sentences for c in s)
        if not counts:
            raise ValueError("CharVocab.build: the sentences hold no characters")
        return cls([c for c, n in counts.most_common() if n >= min_count])

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, chars: Sequence[str]) -> list[int]:
        """The ids of one sentence's characters; unknown ones become ``1``."""
        return [self.index.get(c, self.UNK) for c in chars]


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

class BiLSTMTagger(nn.Module):
    """Scores of every tag at every character: embedding -> BiLSTM -> dropout -> linear.

    ``forward(ids, lengths)`` takes ``ids`` (B, T) right-padded with 0 and the real
    ``lengths`` (B,), and returns logits (B, T, num_tags). The sequences are *packed*, so the
    backward direction starts at each sentence's last real character, not at its padding.
    """

    def __init__(self, vocab_size: int, num_tags: int = len(NER_TAGS), *, emb_dim: int = 64,
                 hidden: int = 128, layers: int = 1, dropout: float = 0.2) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("num_tags", num_tags),
                            ("emb_dim", emb_dim), ("hidden", hidden), ("layers", layers)):
            _check_int(name, value, 2 if name in ("vocab_size", "num_tags") else 1)
        if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.config = {"vocab_size": vocab_size, "num_tags": num_tags, "emb_dim": emb_dim,
                       "hidden": hidden, "layers": layers, "dropout": float(dropout)}
        self.embed = nn.Embedding(vocab_size, emb_dim, padding_idx=0)
        self.lstm = nn.LSTM(emb_dim, hidden, num_layers=layers, batch_first=True,
                            bidirectional=True, dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, num_tags)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if ids.dim() != 2 or lengths.shape != ids.shape[:1]:
            raise ValueError(f"ids must be (B, T) and lengths (B,), got {tuple(ids.shape)} "
                             f"and {tuple(lengths.shape)}")
        x = self.drop(self.embed(ids))
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=ids.shape[1])
        return self.out(self.drop(h))


def encode_batch(vocab: CharVocab, sentences: Sequence, max_length: int | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, lengths)`` for :meth:`BiLSTMTagger.forward`: the sentences' character ids,
    right-padded with 0 into a (B, T) tensor (each cut to ``max_length`` if given), and
    their lengths (B,)."""
    sentences = _check_sentences(sentences, tagged=False)
    if any(not s for s in sentences):
        raise ValueError("encode_batch: a sentence is empty (an LSTM needs length >= 1)")
    ids = [vocab.encode(s[:max_length] if max_length else s) for s in sentences]
    lengths = torch.tensor([len(x) for x in ids])
    padded = torch.zeros((len(ids), int(lengths.max())), dtype=torch.long)
    for r, x in enumerate(ids):
        padded[r, :len(x)] = torch.tensor(x, dtype=torch.long)
    return padded, lengths


# --------------------------------------------------------------------------------------------
# Training and prediction
# --------------------------------------------------------------------------------------------

@dataclass
class TaggerHistory:
    """What :func:`train_tagger` measured: the loss of every step, the training time in
    seconds, the sentences and characters seen and the settings."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    sentences: int = 0
    characters: int = 0
    settings: dict = field(default_factory=dict)


def _tag_ids(tags: Sequence[str], tag_names: Sequence[str]) -> list[int]:
    index = {t: i for i, t in enumerate(tag_names)}
    try:
        return [index[t] for t in tags]
    except KeyError as exc:
        raise ValueError(f"unknown tag {exc.args[0]!r}: the tagger knows {list(tag_names)}") \
            from None


def train_tagger(model: BiLSTMTagger, vocab: CharVocab, data: Sequence[Sentence], *,
                 epochs: int = 1, batch_size: int = 32, lr: float = 3e-3,
                 warmup: float = 0.05, weight_decay: float = 0.0, max_length: int = 200,
                 max_examples: int | None = None, seed: int = 0, progress: bool = True,
                 callback=None, tag_names: Sequence[str] = NER_TAGS) -> TaggerHistory:
    """Train ``model`` on ``(chars, tags)`` sentences with per-character cross-entropy.

    AdamW at ``lr`` with a linear warm-up over the first ``warmup`` fraction of the steps and
    a linear decay to 0; batches of similar length (:func:`llmbook.classification.
    length_batches`, shuffled by ``seed``); sentences cut to ``max_length`` characters for
    training only; gradients clipped to norm 1. ``callback(step, history)`` runs after every
    step. Returns a :class:`TaggerHistory`; the model is left in eval mode.
    """
    if not isinstance(model, BiLSTMTagger):
        raise TypeError(f"model must be a BiLSTMTagger, got {type(model).__name__}")
    if not isinstance(vocab, CharVocab):
        raise TypeError(f"vocab must be a CharVocab, got {type(vocab).__name__}")
    if len(vocab) != model.config["vocab_size"]:
        raise ValueError(f"the vocabulary has {len(vocab)} entries but the model's embedding "
                         f"{model.config['vocab_size']}: build the model with "
                         f"vocab_size=len(vocab)")
    if len(tag_names) != model.config["num_tags"]:
        raise ValueError(f"{len(tag_names)} tag names for a model with "
                         f"{model.config['num_tags']} outputs")
    data = _check_sentences(data)
    for name, value in (("epochs", epochs), ("batch_size", batch_size),
                        ("max_length", max_length)):
        _check_int(name, value, 1)
    if max_examples is not None:
        data = data[:_check_int("max_examples", max_examples, 1)]
    if not (isinstance(lr, (int, float)) and lr > 0) or not 0 <= warmup < 1:
        raise ValueError(f"lr must be > 0 and warmup in [0, 1), got lr={lr!r}, "
                         f"warmup={warmup!r}")
    data = [(c, t) for c, t in data if c]
    targets = [_tag_ids(t[:max_length], tag_names) for _, t in data]
    lengths = [min(len(c), max_length) for c, _ in data]
    batches = [b for e in range(epochs)
               for b in length_batches(lengths, batch_size, seed=seed + e)]
    total, warm = len(batches), int(warmup * len(batches))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    history = TaggerHistory(settings={"epochs": epochs, "batch_size": batch_size, "lr": lr,
                                      "warmup": warmup, "weight_decay": weight_decay,
                                      "max_length": max_length, "seed": seed,
                                      "sentences": len(data)})
    steps = batches
    if progress:
        from tqdm.auto import tqdm
        steps = tqdm(batches, desc="training")
    torch.manual_seed(seed)
    model.train()
    start = time.perf_counter()
    for step, batch in enumerate(steps):
        for group in optimizer.param_groups:
            group["lr"] = linear_warmup_lr(step, max_lr=lr, warmup_steps=warm,
                                           total_steps=total)
        ids, lens = encode_batch(vocab, [data[i][0] for i in batch], max_length)
        gold = torch.full(ids.shape, -100, dtype=torch.long)
        for r, i in enumerate(batch):
            gold[r, :lengths[i]] = torch.tensor(targets[i])
        logits = model(ids, lens)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), gold.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        history.losses.append(loss.item())
        history.sentences += len(batch)
        history.characters += int(lens.sum())
        if callback is not None:
            callback(step, history)
    history.seconds = time.perf_counter() - start
    model.eval()
    return history


@torch.no_grad()
def predict_tags(model: BiLSTMTagger, vocab: CharVocab, sentences: Sequence, *,
                 batch_size: int = 256, tag_names: Sequence[str] = NER_TAGS) -> list[list[str]]:
    """The most likely tag of every character of every sentence (lists of characters or
    str), whole sentences, no truncation. The tags are read per character (no transition
    constraints), so a stray ``I-`` can occur; :func:`llmbook.ner.bio_spans` reads it."""
    if not isinstance(model, BiLSTMTagger):
        raise TypeError(f"model must be a BiLSTMTagger, got {type(model).__name__}")
    sentences = _check_sentences(sentences, tagged=False)
    _check_int("batch_size", batch_size, 1)
    was_training = model.training
    model.eval()
    out: list[list[str] | None] = [None] * len(sentences)
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    for start in range(0, len(order), batch_size):
        chunk = [i for i in order[start:start + batch_size]]
        nonempty = [i for i in chunk if sentences[i]]
        for i in chunk:
            if not sentences[i]:
                out[i] = []
        if not nonempty:
            continue
        ids, lens = encode_batch(vocab, [sentences[i] for i in nonempty], None)
        best = model(ids, lens).argmax(-1)
        for r, i in enumerate(nonempty):
            out[i] = [tag_names[k] for k in best[r, :lens[r]].tolist()]
    model.train(was_training)
    return out  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# The dictionary baseline
# --------------------------------------------------------------------------------------------

class Gazetteer:
    """A list of known entity names (a **gazetteer**) and the type each was most often given.

    :meth:`tag` marks every occurrence in new text by greedy longest match from left to
    right (forward maximum matching): at each position the longest known name that starts
    there is taken, and the scan resumes after it. Names shorter than ``min_length``
    characters are left out (single characters such as 京 or 华 are far more often parts of
    other words than names).
    """

    def __init__(self, names: dict[str, str], min_length: int = 2) -> None:
        _check_int("min_length", min_length, 1)
        if not isinstance(names, dict):
            raise TypeError(f"names must be a dict name -> type, got {type(names).__name__}")
        for name, kind in names.items():
            if not (isinstance(name, str) and name):
                raise TypeError(f"gazetteer names must be non-empty str, got {name!r}")
            parse_tag(f"B-{kind}")
        self.names = {n: k for n, k in names.items() if len(n) >= min_length}
        self.min_length = min_length
        self.longest = max((len(n) for n in self.names), default=0)

    @classmethod
    def build(cls, data: Sequence[Sentence], min_length: int = 2) -> "Gazetteer":
        """The entity names of ``data`` (``(chars, tags)`` sentences), each with its most
        frequent type (ties: the type seen first)."""
        counts: dict[str, collections.Counter] = {}
        for chars, tags in _check_sentences(data):
            for kind, start, end in bio_spans(tags):
                counts.setdefault("".join(chars[start:end]), collections.Counter())[kind] += 1
        return cls({n: c.most_common(1)[0][0] for n, c in counts.items()}, min_length)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def tag(self, chars: Sequence[str] | str) -> list[str]:
        """BIO tags for one sentence (a list of characters or a str)."""
        chars = list(chars) if isinstance(chars, str) else _check_sentences([chars], tagged=False)[0]
        spans, i = [], 0
        while i < len(chars):
            for size in range(min(self.longest, len(chars) - i), self.min_length - 1, -1):
                kind = self.names.get("".join(chars[i:i + size]))
                if kind is not None:
                    spans.append((kind, i, i + size))
                    i += size
                    break
            else:
                i += 1
        return spans_to_tags(len(chars), spans)

    def tag_all(self, sentences: Sequence) -> list[list[str]]:
        """:meth:`tag` for each sentence."""
        return [self.tag(s) for s in _check_sentences(sentences, tagged=False)]


# --------------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------------

def save_tagger(model: BiLSTMTagger, vocab: CharVocab, path: str | Path,
                extra: dict | None = None) -> tuple[Path, Path]:
    """Write ``path`` (``.safetensors``: the weights) and the same name with ``.json`` (the
    configuration, the vocabulary and ``extra``). Returns both paths."""
    from safetensors.torch import save_file

    if not isinstance(model, BiLSTMTagger) or not isinstance(vocab, CharVocab):
        raise TypeError("save_tagger needs a BiLSTMTagger and its CharVocab")
    path = Path(path).with_suffix(".safetensors")
    meta = path.with_suffix(".json")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    meta.write_text(json.dumps({"config": model.config, "chars": vocab.chars[2:],
                                **(extra or {})}, ensure_ascii=False, indent=1) + "\n",
                    encoding="utf-8")
    return path, meta


def load_tagger(path: str | Path) -> tuple[BiLSTMTagger, CharVocab, dict]:
    """``(model, vocab, record)`` from the files :func:`save_tagger` wrote; the model in
    eval mode, ``record`` the JSON file's contents."""
    from safetensors.torch import load_file

    path = Path(path).with_suffix(".safetensors")
    meta = path.with_suffix(".json")
    if not path.is_file() or not meta.is_file():
        raise FileNotFoundError(f"no tagger at {path} (+ {meta.name}); train one with "
                                f"python scripts/train_ner.py")
    record = json.loads(meta.read_text(encoding="utf-8"))
    vocab = CharVocab(record["chars"])
    model = BiLSTMTagger(**record["config"])
    model.load_state_dict(load_file(str(path)))
    model.eval()
    return model, vocab, record


# --------------------------------------------------------------------------------------------
# Showing entities
# --------------------------------------------------------------------------------------------

_COLOURS = {"PER": "#fde2a8", "LOC": "#c9e7ff", "ORG": "#d8f3c8"}


def _marked(chars: list[str], tags: Sequence[str], other: set) -> str:
    import html

    parts, last = [], 0
    for kind, start, end in bio_spans(tags):
        parts.append(html.escape("".join(chars[last:start])))
        ok = (kind, start, end) in other
        style = (f"background:{_COLOURS.get(kind, '#eee')};padding:0 2px;border-radius:3px;"
                 f"border:{'1px solid #555' if ok else '2px dashed #b00020'}")
        parts.append(f'<mark style="{style}">{html.escape("".join(chars[start:end]))}'
                     f'<sub>{html.escape(kind)}{"" if ok else " ✗"}</sub></mark>')
        last = end
    parts.append(html.escape("".join(chars[last:])))
    return "".join(parts)


def entity_html(chars: Sequence[str], gold: Sequence[str], pred: Sequence[str]) -> str:
    """Two lines of HTML: the sentence with its gold entities, and with the predicted ones.

    Each entity is a ``<mark>`` with its type as a subscript; an entity with no exact match
    on the other line has a dashed border and a ✗ after its type (colour is only a help).
    """
    chars = list(chars)
    if not (len(chars) == len(gold) == len(pred)):
        raise ValueError(f"chars, gold and pred differ in length ({len(chars)}, {len(gold)}, "
                         f"{len(pred)})")
    g, p = set(bio_spans(gold)), set(bio_spans(pred))
    return ('<div style="line-height:2;margin-bottom:0.6em">'
            f'<div><b>gold</b>: {_marked(chars, gold, p)}</div>'
            f'<div><b>predicted</b>: {_marked(chars, pred, g)}</div></div>')
