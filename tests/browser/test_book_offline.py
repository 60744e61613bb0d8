"""Unit tests of _ext/book_offline.py's accessibility fixes (no browser, no build needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "_ext"))
from book_offline import _A11Y_RULES, fix_accessibility  # noqa: E402

# One sample of what each rule fixes, as the build writes it, and what it must become.
SAMPLES = {
    "citation list items": (
        '<div role="list" class="citation-list">\n<div class="citation" id="id39" '
        'role="doc-biblioentry">\n<span class="label"><a role="doc-backlink" href="#id2">'
        'DCLT19</a></span>',
        'role="listitem"'),
    "unlabelled <select> after a visible label": (
        '<span style="user-select:none">\n    Layer: <select id="layer"></select>\n'
        '    Attention: <select id="filter"><option value="0">Encoder</option></select>',
        '<select id="layer" aria-label="Layer">'),
    "search button named by its visible text": (
        '<button class="btn search-button-field search-button__button pst-js-only" '
        'title="Search" aria-label="Search" data-bs-placement="bottom" '
        'data-bs-toggle="tooltip">\n <span class="search-button__default-text">Search</span>',
        'title="Search" aria-keyshortcuts="Control+K" data-bs-placement'),
    "colour-mode icons are decoration": (
        '<i class="theme-switch fa-solid fa-sun                fa-lg" data-mode="light" '
        'title="Light"></i>',
        'data-mode="light" aria-hidden="true"></i>'),
    "folded cell summary named by its visible text": (
        '<details class="hide above-input">\n<summary aria-label="Toggle hidden content">\n'
        '<p class="collapsed admonition-title">Show code cell source</p>',
        "<summary>\n"),
}


def test_every_rule_has_a_sample():
    assert sorted(SAMPLES) == sorted(name for name, _, _ in _A11Y_RULES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_rule_fixes_its_sample_once(name):
    before, expected = SAMPLES[name]
    after = fix_accessibility(before)
    assert expected in after, after
    assert fix_accessibility(after) == after  # idempotent: a rebuilt page is not changed twice


def test_labelled_selects_and_other_buttons_are_left_alone():
    html = ('Layer: <select id="layer" aria-label="Pick a layer"></select>'
            '<button class="btn btn-sm pst-navbar-icon search-button" aria-label="Search">'
            '<div class="citation" id="x" role="note">')
    assert fix_accessibility(html) == html
    second = fix_accessibility('Attention: <select id="filter"></select>')
    assert 'aria-label="Attention"' in second
