"""Tests of llmbook.reproducibility: bands, glue, the measurement log, bad input."""

import json

import pytest
import torch

from llmbook import reproducibility
from llmbook.reproducibility import BandError, claim


def test_claim_inside_band_returns_and_prints_nothing(capsys):
    assert claim("loss", 1.5, between=(1.4, 1.6)) is None        # no stray cell output
    assert claim("acc", torch.tensor(0.9), between=(0.8, 1.0)) is None
    assert capsys.readouterr().out == ""


def test_claim_outside_band_names_number_and_band():
    with pytest.raises(BandError, match=r"ppl = 7\.5 is outside the band \[5\.9, 6\.1\]"):
        claim("ppl", 7.5, between=(5.9, 6.1))


@pytest.mark.parametrize("between, error", [
    ((2.0, 1.0), ValueError), ((1.0,), TypeError), ([1.0, 2.0], TypeError),
    (("a", 2.0), TypeError)])
def test_claim_rejects_bad_bands(between, error):
    with pytest.raises(error):
        claim("x", 1.5, between=between)


@pytest.mark.parametrize("value, error", [("1.5", TypeError), (True, TypeError),
                                          (float("nan"), ValueError), (None, TypeError)])
def test_claim_rejects_bad_values(value, error):
    with pytest.raises(error):
        claim("x", value, between=(0.0, 2.0))


def test_claim_rejects_bad_names():
    with pytest.raises(ValueError, match="identifier"):
        claim("val loss", 1.0, between=(0.0, 2.0))


def test_measurement_log_and_measure_mode(tmp_path, monkeypatch):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv(reproducibility.CLAIMS_LOG_ENV, str(log))
    monkeypatch.setenv(reproducibility.MEASURE_ENV, "1")
    claim("far", 10.0, between=(0.0, 1.0))          # measuring: logged, not enforced
    record = json.loads(log.read_text().splitlines()[0])
    assert record["name"] == "far" and record["value"] == 10.0
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    monkeypatch.delenv(reproducibility.MEASURE_ENV)
    with pytest.raises(BandError):
        claim("far", 10.0, between=(0.0, 1.0))


def test_glue_checks_its_name_and_shows_nothing(capsys):
    reproducibility.glue("cpu_name", "AMD EPYC")
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="identifier"):
        reproducibility.glue("cpu name", 1)
