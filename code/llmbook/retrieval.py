"""Retrieval for retrieval-augmented generation: cut a text into chunks, embed them, find the
chunks nearest to a question, and measure how often the right one is found.

* :func:`split_paragraphs`, :func:`chunk_text` -- paragraphs packed into chunks of at most
  ``max_chars`` characters, consecutive chunks sharing up to ``overlap`` characters (whole
  trailing paragraphs; a paragraph longer than ``max_chars`` is cut into overlapping windows),
  so that a sentence cut at a border is still whole in one chunk;
* :func:`notebook_chunks` -- the book's own notebooks (their markdown cells) as :class:`Chunk`
  objects that know their section (``"3.5"``) and heading, to cite where an answer came from;
* :func:`embed_texts` -- sentence embeddings: MiniLM's last hidden states averaged over the
  real (non-padding) tokens, :math:`e = \\sum_t m_t h_t / \\sum_t m_t`, scaled to length 1;
* :class:`ExactIndex` -- exact nearest-neighbour search in torch: every stored vector is scored
  against the query (cosine :math:`\\frac{q \\cdot v}{\\|q\\| \\|v\\|}`, or the inner product
  :math:`q \\cdot v`), the ``k`` best returned. Cost: one matrix product, ``O(n d)`` a query;
* :class:`FaissIndex` -- the same interface over ``faiss``: ``"flat"`` (exact), ``"hnsw"`` (a
  graph of neighbours walked greedily: approximate, sub-linear) or ``"ivf"`` (vectors
  clustered, only the ``nprobe`` nearest clusters searched: approximate);
* :func:`recall_at_k`, :func:`mrr` -- the scores of a retriever.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Hashable, Sequence

import torch
import torch.nn.functional as F

__all__ = ["split_paragraphs", "chunk_text", "Chunk", "notebook_chunks", "embed_texts",
           "ExactIndex", "FaissIndex", "recall_at_k", "mrr"]

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\s+(.*)$")
_BOOK_CHAPTERS = Path(__file__).resolve().parents[2] / "chapters"


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def split_paragraphs(text: str) -> list[str]:
    """The paragraphs of a markdown text: blocks separated by blank lines, except that a fenced
    code block (```) stays whole. Each is stripped; empty ones are dropped."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    paragraphs, current, in_fence = [], [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        if not line.strip() and not in_fence:
            paragraphs.append("\n".join(current).strip())
            current = []
        else:
            current.append(line)
    paragraphs.append("\n".join(current).strip())
    return [p for p in paragraphs if p]


def _windows(text: str, size: int, overlap: int) -> list[str]:
    step = size - overlap
    return [text[i:i + size] for i in range(0, max(len(text) - overlap, 1), step)]


def chunk_text(text: str, max_chars: int = 800, overlap: int = 100) -> list[str]:
    """``text`` cut into chunks of at most ``max_chars`` characters.

    Paragraphs (:func:`split_paragraphs`) are packed greedily, joined by a blank line. A new
    chunk starts with the last paragraphs of the previous one as long as they total at most
    ``overlap`` characters (and still leave room). A paragraph longer than ``max_chars`` is
    cut into windows of ``max_chars`` characters, each starting ``max_chars - overlap`` after
    the previous one.
    """
    _check_int("max_chars", max_chars, 1)
    _check_int("overlap", overlap, 0)
    if overlap >= max_chars:
        raise ValueError(f"overlap ({overlap}) must be smaller than max_chars ({max_chars}), "
                         f"or chunks would never move forward")
    pieces = [w for p in split_paragraphs(text)
              for w in (_windows(p, max_chars, overlap) if len(p) > max_chars else [p])]
    chunks: list[str] = []
    current: list[str] = []

    def size(parts: list[str]) -> int:
        return sum(map(len, parts)) + 2 * max(len(parts) - 1, 0)

    for piece in pieces:
        if current and size(current + [piece]) > max_chars:
            chunks.append("\n\n".join(current))
            carry: list[str] = []
            for part in reversed(current):
                if size([part] + carry) > overlap or size([part] + carry + [piece]) > max_chars:
                    break
                carry.insert(0, part)
            current = carry
        current.append(piece)
    if current:
        chunks.append("\n\n".join(current))
    return chunks


@dataclass(frozen=True)
class Chunk:
    """A piece of the book: ``text``; ``section`` (``"3.5"``, or the file's name for an
    unnumbered page such as the preface); ``title`` (the page's title); ``heading`` (the
    nearest heading above the text); ``source`` (the notebook's path under the chapters
    folder); ``index`` (its number within that notebook). ``id`` is ``"<file stem>#<index>"``,
    unique in the book (two notebooks can share a section number)."""

    text: str
    section: str
    title: str
    heading: str
    source: str
    index: int

    @property
    def id(self) -> str:
        return f"{Path(self.source).stem}#{self.index}"


def _markdown_blocks(cells: list[dict]) -> list[tuple[str, str]]:
    """The markdown of a notebook as ``(heading, text)`` blocks, one per heading."""
    blocks: list[tuple[str, list[str]]] = [("", [])]
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        in_fence = False
        for line in ("".join(source) if isinstance(source, list) else source).splitlines():
            if _FENCE.match(line):
                in_fence = not in_fence
            match = None if in_fence else _HEADING.match(line)
            if match:
                blocks.append((match.group(2), []))
            blocks[-1][1].append(line)
        blocks[-1][1].append("")                    # a cell ends a paragraph
    return [(h, "\n".join(lines)) for h, lines in blocks if "".join(lines).strip()]


def notebook_chunks(root: str | Path | None = None, *, max_chars: int = 800,
                    overlap: int = 100) -> list[Chunk]:
    """The markdown cells of every ``*.ipynb`` under ``root`` (default: the book's
    ``chapters`` folder), cut by :func:`chunk_text` within each heading's block, in file order.

    A notebook's section number and title come from its first ``# N.M Title`` heading."""
    folder = _BOOK_CHAPTERS if root is None else Path(root)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}: pass root= the book's 'chapters' folder "
                                f"(a pip-installed llmbook has no chapters; clone the book)")
    chunks = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (ValueError, KeyError) as err:
            raise ValueError(f"{path} is not a readable notebook: {err}") from err
        blocks = _markdown_blocks(cells)
        section, title = path.stem, path.stem
        first = next((h for h, _ in blocks if h), "")
        numbered = _NUMBERED.match(first)
        if numbered:
            section, title = numbered.groups()
        elif first:
            title = first
        index = 0
        for heading, text in blocks:
            for piece in chunk_text(text, max_chars, overlap):
                chunks.append(Chunk(piece, section, title, heading,
                                    path.relative_to(folder).as_posix(), index))
                index += 1
    return chunks


def embed_texts(texts: Sequence[str], model: Any = None, tokenizer: Any = None, *,
                batch_size: int = 64, max_length: int = 256,
                normalize: bool = True) -> torch.Tensor:
    """Sentence embeddings ``(len(texts), d)``: mean-pooled last hidden states of ``model``
    (default: all-MiniLM-L6-v2 from :func:`llmbook.resources.load_minilm`, d = 384), each
    scaled to length 1 when ``normalize`` (then the inner product is the cosine). Texts longer
    than ``max_length`` tokens are truncated (MiniLM was trained on up to 256)."""
    if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts:
        raise TypeError("texts must be a non-empty list of str (for one text pass [text])")
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("every element of texts must be a str")
    _check_int("batch_size", batch_size, 1)
    _check_int("max_length", max_length, 1)
    if (model is None) != (tokenizer is None):
        raise ValueError("pass both model and tokenizer, or neither (then MiniLM is loaded)")
    if model is None:
        from .resources import load_minilm

        model, tokenizer = load_minilm(attentions=False, verbose=False)
    from .train_sentiment import _mean_pooled      # the pooling of sections 2.5 and 5.5

    vectors = torch.from_numpy(_mean_pooled(model, tokenizer, list(texts),
                                            batch_size=batch_size, max_length=max_length))
    return F.normalize(vectors, dim=-1) if normalize else vectors


def _matrix(name: str, x: object, dim: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a tensor, array or list of lists of numbers: "
                            f"{err}") from err
    x = x.detach().to("cpu", torch.float32)
    if x.dim() == 1:
        x = x.unsqueeze(0)
    if x.dim() != 2 or x.shape[1] != dim:
        raise ValueError(f"{name} must have shape (n, {dim}) (the index's dimension), got "
                         f"{tuple(x.shape)}: embed queries with the same model as the index")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _unit(name: str, x: torch.Tensor) -> torch.Tensor:
    norms = x.norm(dim=1)
    if (norms == 0).any():
        raise ValueError(f"{name} has an all-zero vector (row {int((norms == 0).nonzero()[0])}):"
                         f" its cosine with anything is undefined; drop it or use metric='ip'")
    return x / norms.unsqueeze(1)


class _Index:
    """What both indexes share: ids, argument checks, the cosine normalisation."""

    def __init__(self, dim: int, metric: str = "cosine"):
        self.dim = _check_int("dim", dim, 1)
        if metric not in ("cosine", "ip"):
            raise ValueError(f"metric must be 'cosine' or 'ip' (inner product), got {metric!r}")
        self.metric = metric
        self.ids: list[Hashable] = []

    def __len__(self) -> int:
        return len(self.ids)

    def _prepare_add(self, vectors: object, ids: Sequence[Hashable] | None) -> torch.Tensor:
        x = _matrix("vectors", vectors, self.dim)
        if ids is None:
            ids = range(len(self), len(self) + len(x))
        if isinstance(ids, str) or not isinstance(ids, Sequence) or len(ids) != len(x):
            raise ValueError(f"ids must be a list with one id per vector ({len(x)}), got "
                             f"{ids!r:.80}")
        taken = set(self.ids)
        for i in ids:
            if i in taken:
                raise ValueError(f"id {i!r} is already in the index (or repeated): ids must "
                                 f"be unique")
            taken.add(i)
        x = _unit("vectors", x) if self.metric == "cosine" else x
        self.ids.extend(ids)                        # only once everything has been checked
        return x

    def _prepare_search(self, queries: object, k: object) -> tuple[torch.Tensor, int]:
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"k must be a positive int (how many neighbours), got {k!r}")
        if not self.ids:
            raise ValueError("the index is empty: add(vectors, ids) before searching")
        q = _matrix("queries", queries, self.dim)
        return (_unit("queries", q) if self.metric == "cosine" else q), min(k, len(self))


class ExactIndex(_Index):
    """Exact search: ``scores = Q V^T`` over every stored vector, then the ``k`` highest.

    ``add(vectors, ids=None)`` stores ``(n, dim)`` vectors (ids default to 0, 1, ...);
    ``search(queries, k)`` returns ``(scores, ids)``: a ``(q, k)`` float32 tensor, best first,
    and one list of ``k`` ids per query. ``k`` larger than the index returns all of it; equal
    scores keep the order of insertion. A 1-D query is one query. With ``metric="cosine"``
    the vectors are stored (``.vectors``) and queried scaled to length 1.
    """

    def __init__(self, dim: int, metric: str = "cosine"):
        super().__init__(dim, metric)
        self.vectors = torch.empty(0, dim)

    def add(self, vectors: object, ids: Sequence[Hashable] | None = None) -> None:
        self.vectors = torch.cat([self.vectors, self._prepare_add(vectors, ids)])

    def search(self, queries: object, k: int) -> tuple[torch.Tensor, list[list[Hashable]]]:
        q, k = self._prepare_search(queries, k)
        scores, order = [], []
        for start in range(0, len(q), 256):          # bounded memory: 256 queries at a time
            s = q[start:start + 256] @ self.vectors.T
            s, idx = torch.sort(s, dim=1, descending=True, stable=True)
            scores.append(s[:, :k])
            order.append(idx[:, :k])
        idx = torch.cat(order)
        return torch.cat(scores), [[self.ids[j] for j in row] for row in idx.tolist()]


class FaissIndex(_Index):
    """The same interface over ``faiss`` (``pip install faiss-cpu``).

    ``kind="flat"``: ``IndexFlatIP``, exact (the same ids as :class:`ExactIndex`).
    ``kind="hnsw"``: ``IndexHNSWFlat`` with ``m`` neighbours per node; a search explores
    ``ef_search`` candidates (more: slower, higher recall). ``kind="ivf"``: ``IndexIVFFlat``
    with ``nlist`` clusters, trained by k-means on the *first* batch added (at least ``nlist``
    vectors, better 40x that); a search visits the ``nprobe`` nearest clusters. Approximate
    kinds may find fewer than ``k`` neighbours: missing places get score ``-inf``, id ``None``.
    Cosine is the inner product of vectors scaled to length 1.
    """

    def __init__(self, dim: int, metric: str = "cosine", kind: str = "flat", *, m: int = 32,
                 ef_search: int = 64, nlist: int = 16, nprobe: int = 4):
        super().__init__(dim, metric)
        try:
            import faiss
        except ImportError as err:
            raise ImportError("FaissIndex needs faiss: pip install faiss-cpu (ExactIndex "
                              "needs nothing more than torch)") from err
        self._faiss = faiss
        ip = faiss.METRIC_INNER_PRODUCT
        if kind == "flat":
            self.index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            self.index = faiss.IndexHNSWFlat(dim, _check_int("m", m, 2), ip)
            self.index.hnsw.efSearch = _check_int("ef_search", ef_search, 1)
        elif kind == "ivf":
            self._quantizer = faiss.IndexFlatIP(dim)      # kept alive with the index
            self.index = faiss.IndexIVFFlat(self._quantizer, dim, _check_int("nlist", nlist, 1),
                                            ip)
            self.index.nprobe = min(_check_int("nprobe", nprobe, 1), nlist)
        else:
            raise ValueError(f"kind must be 'flat', 'hnsw' or 'ivf', got {kind!r}")
        self.kind = kind

    def add(self, vectors: object, ids: Sequence[Hashable] | None = None) -> None:
        before = len(self.ids)
        x = self._prepare_add(vectors, ids)
        data = x.numpy().astype("float32", copy=False)
        if not self.index.is_trained:
            if len(x) < self.index.nlist:
                del self.ids[before:]
                raise ValueError(f"an IVF index with nlist={self.index.nlist} clusters needs "
                                 f"at least that many vectors in its first add (got {len(x)}):"
                                 f" lower nlist or add more at once")
            self.index.train(data)
        self.index.add(data)

    def search(self, queries: object, k: int) -> tuple[torch.Tensor, list[list[Hashable]]]:
        q, k = self._prepare_search(queries, k)
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = max(self.index.hnsw.efSearch, k)
        scores, idx = self.index.search(q.numpy(), k)
        scores = torch.from_numpy(scores.copy())
        scores[torch.from_numpy(idx < 0)] = float("-inf")
        return scores, [[self.ids[j] if j >= 0 else None for j in row] for row in idx.tolist()]


def _check_ranking(ranked_ids: object, relevant_ids: object) -> list[tuple[list, set]]:
    for name, value in (("ranked_ids", ranked_ids), ("relevant_ids", relevant_ids)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a list with one entry per query, got "
                            f"{type(value).__name__}")
    if len(ranked_ids) != len(relevant_ids):
        raise ValueError(f"{len(ranked_ids)} rankings but {len(relevant_ids)} relevance "
                         f"entries: one of each per query")
    if not ranked_ids:
        raise ValueError("no queries: ranked_ids is empty")
    pairs = []
    for i, (ranked, relevant) in enumerate(zip(ranked_ids, relevant_ids)):
        if isinstance(ranked, (str, bytes)) or not isinstance(ranked, Sequence):
            raise TypeError(f"ranked_ids[{i}] must be the list of ids retrieved for query {i}, "
                            f"best first (for a single query pass [ranking])")
        rel = set(relevant) if isinstance(relevant, (set, frozenset, list, tuple)) \
            else {relevant}
        if not rel:
            raise ValueError(f"query {i} has no relevant ids: recall and MRR are undefined "
                             f"for it; leave it out")
        pairs.append((list(ranked), rel))
    return pairs


def recall_at_k(ranked_ids: Sequence[Sequence[Hashable]], relevant_ids: Sequence[Any],
                k: int) -> float:
    """Mean over queries of ``|top-k ∩ relevant| / |relevant|``. ``relevant_ids[i]`` is one id
    (str or int) or a set / list of ids. With one relevant id per query this is the hit rate:
    the fraction of queries whose answer is among the first ``k`` retrieved."""
    _check_int("k", k, 1)
    pairs = _check_ranking(ranked_ids, relevant_ids)
    return sum(len(set(r[:k]) & rel) / len(rel) for r, rel in pairs) / len(pairs)


def mrr(ranked_ids: Sequence[Sequence[Hashable]], relevant_ids: Sequence[Any],
        k: int | None = None) -> float:
    """Mean reciprocal rank: mean over queries of ``1 / rank`` of the first relevant id (rank 1
    = retrieved first), 0 when none is within the first ``k`` (or the whole ranking)."""
    if k is not None:
        _check_int("k", k, 1)
    pairs = _check_ranking(ranked_ids, relevant_ids)
    total = 0.0
    for ranked, rel in pairs:
        for rank, item in enumerate(ranked[:k], start=1):
            if item in rel:
                total += 1 / rank
                break
    return total / len(pairs)
