"""llmbook.train_modern: the recipes, the schedules, the FLOP count, and an interleaved run of
a fraction of a second per recipe on a toy text."""

import json

import pytest
import torch

from llmbook import train_modern as tm
from llmbook.chardata import CharData
from llmbook.gpt import GPT, GPTConfig
from llmbook.lm import CharVocab


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _data():
    text = "to be or not to be that is the question whether tis nobler in the mind " * 30
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    return CharData(vocab, ids, ids[:400], ids[:400])


TINY = dict(n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, eval_windows=4,
            final_eval_windows=8, steps_per_turn=2, warmup_frac=0.1)


def test_the_ladder_adds_one_change_at_a_time():
    names = [r.name for r in tm.RECIPES]
    assert names[0] == "baseline" and tm.RECIPES[0].model == {}
    assert {"rmsnorm", "rope", "relu2", "qk_norm", "zero_init", "muon", "schedule"} <= set(names)
    for before, after in zip(tm.RECIPES, tm.RECIPES[1:]):
        assert before.model.items() <= after.model.items()          # cumulative
        changed = (after.model != before.model) + (after.optimizer != before.optimizer) + \
            (after.schedule != before.schedule)
        assert changed == 1, (before.name, after.name)
    assert tm.RECIPES[-1].optimizer == "muon" and tm.RECIPES[-1].schedule == "trapezoid"
    with pytest.raises(ValueError, match="optimizer"):
        tm.Recipe("x", "x", optimizer="sgd")
    with pytest.raises(ValueError, match="norm"):
        tm.Recipe("x", "x", model={"norm": "batchnorm"})


def test_schedules():
    s = tm.AblationSettings(warmup_frac=0.1, min_lr_frac=0.1, cooldown_frac=0.4)
    assert tm.lr_scale("cosine", 0.0, s) == pytest.approx(0.01)
    assert tm.lr_scale("cosine", 0.05, s) == pytest.approx(0.5)
    assert tm.lr_scale("cosine", 0.1, s) == pytest.approx(1.0)
    assert tm.lr_scale("cosine", 1.0, s) == pytest.approx(0.1)
    assert tm.lr_scale("trapezoid", 0.5, s) == pytest.approx(1.0)
    assert tm.lr_scale("trapezoid", 0.8, s) == pytest.approx(0.5)
    assert tm.lr_scale("trapezoid", 1.0, s) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        tm.AblationSettings(budget_seconds=0)


def test_flops_per_token():
    config = GPTConfig(vocab_size=10, block_size=8, n_layer=2, n_head=2, n_embd=16)
    d = 16
    matmul = 2 * (3 * d * d + d * d + 2 * 4 * d * d) + 10 * d         # blocks + output layer
    assert tm.flops_per_token(GPT(config)) == 6 * matmul + 12 * 2 * d * 8


def test_seconds_to_reach():
    entry = {"history": {"seconds": [0, 10, 20], "val_loss": [4.0, 3.0, 2.0]}}
    assert tm.seconds_to_reach(entry, 2.5) == pytest.approx(15.0)
    assert tm.seconds_to_reach(entry, 4.5) == 0.0
    assert tm.seconds_to_reach(entry, 1.0) is None


def test_timing_then_training_by_steps(tmp_path):
    recipes = [tm.RECIPES[0], tm.RECIPES[-1]]            # baseline and the whole ladder
    settings = tm.AblationSettings(budget_seconds=1.0, eval_every_seconds=0.25, **TINY)
    data = _data()
    step = tm.measure_step_seconds(recipes, data, settings, rounds=2, progress=False)
    assert set(step) == {"baseline", "schedule"} and all(0 < s < 1 for s in step.values())
    fake = {"baseline": 0.1, "schedule": 0.05}           # the clock is steps x step time
    entries = tm.train_recipes(recipes, data, settings, fake, peak_flops=1e10,
                               progress=False, save_dir=tmp_path)
    assert [e["name"] for e in entries] == ["baseline", "schedule"]
    for entry, seconds in zip(entries, (0.1, 0.05)):
        h = entry["history"]
        assert entry["steps"] == entry["budget_steps"] == round(1.0 / seconds)
        assert entry["train_seconds"] == pytest.approx(1.0)
        assert h["seconds"] == sorted(h["seconds"]) and h["seconds"][0] == 0.0
        assert h["seconds"][-1] == pytest.approx(1.0) and len(h["val_loss"]) >= 5
        assert 0 < entry["final_validation_loss"] < 5
        assert entry["tokens"] == entry["steps"] * 4 * 16
        assert entry["mfu"] == pytest.approx(entry["flops_per_token"] * 64 / seconds / 1e10,
                                             abs=1e-4)
        assert (tmp_path / f"modern_{entry['name']}.safetensors").is_file()
    assert entries[1]["config"]["norm"] == "rmsnorm"
    json.dumps(entries)                                   # JSON-able
    again = tm.train_recipe(recipes[0], data, settings, 0.1, progress=False)
    assert again["history"] == entries[0]["history"]     # seeded: the same run
    short = tm.train_recipe(recipes[0], data, settings, 0.1, progress=False, max_steps=5)
    assert short["budget_steps"] == 10 and short["steps"] == 5
    assert short["history"]["val_loss"][:2] == entries[0]["history"]["val_loss"][:2]
    with pytest.raises(ValueError, match="distinct"):
        tm.train_recipes([recipes[0], recipes[0]], data, settings, fake)
    with pytest.raises(ValueError, match="no step time"):
        tm.train_recipes(recipes, data, settings, {"baseline": 0.1})
    with pytest.raises(ValueError, match="step_seconds"):
        tm.train_recipe(recipes[0], data, settings, 0.0)
    with pytest.raises(ValueError, match="rounds"):
        tm.measure_step_seconds(recipes, data, settings, rounds=0)


def test_main_writes_the_record(tmp_path, monkeypatch):
    monkeypatch.setattr(tm, "load_char_data", lambda verbose=True: _data())
    out = tmp_path / "modern.json"
    record = tm.main(["--out", str(out), "--ladder", "baseline", "muon", "--ladder-budget",
                      "0.2", "--headline", "baseline", "--headline-budget", "0.3",
                      "--eval-every", "0.1", "--n-layer", "1", "--n-head", "2", "--n-embd",
                      "16", "--block-size", "16", "--batch-size", "4", "--eval-windows", "4",
                      "--final-eval-windows", "4", "--threads", "1", "--jobs", "1",
                      "--timing-rounds", "2", "--no-progress"])
    saved = json.loads(out.read_text())
    assert saved["command"].startswith("python scripts/train_modern.py --out")
    assert [e["name"] for e in saved["ladder"]["recipes"]] == ["baseline", "muon"] == \
        [e["name"] for e in record["ladder"]["recipes"]]
    assert [e["name"] for e in saved["headline"]["recipes"]] == ["baseline"]
    assert set(saved["step_seconds"]) == {"baseline", "muon"}
    assert saved["peak_gflops"] > 0 and saved["bf16_matmul_gflops"] > 0


def test_load_record(tmp_path):
    with pytest.raises(FileNotFoundError, match="scripts/train_modern.py"):
        tm.load_record(tmp_path / "missing.json")
    (tmp_path / "r.json").write_text('{"ladder": {}}')
    assert tm.load_record(tmp_path / "r.json") == {"ladder": {}}


def test_add_a_part_on_the_same_clock(tmp_path, monkeypatch):
    monkeypatch.setattr(tm, "load_char_data", lambda verbose=True: _data())
    out = tmp_path / "modern.json"
    tiny = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16",
            "--batch-size", "4", "--eval-windows", "4", "--final-eval-windows", "4",
            "--threads", "1", "--jobs", "1", "--no-progress"]
    tm.main(["--out", str(out), "--ladder", "--headline", "baseline", "schedule", "--headline-budget",
             "0.2", "--eval-every", "0.1", "--timing-rounds", "1", *tiny])
    before = json.loads(out.read_text())
    record = tm.main(["--add-to", str(out), "--part", "short", "--headline", "schedule",
                      "--headline-budget", "0.1", *tiny])
    saved = json.loads(out.read_text())
    assert saved["step_seconds"] == before["step_seconds"] and "ladder" not in saved
    entry = saved["short"]["recipes"][0]
    assert entry["name"] == "schedule" and entry["step_seconds"] == before["step_seconds"]["schedule"]
    assert saved["short"]["budget_seconds"] == 0.1 and record["short"] == saved["short"]
    with pytest.raises(SystemExit, match="already has"):
        tm.main(["--add-to", str(out), "--part", "short", "--headline", "schedule", *tiny])
