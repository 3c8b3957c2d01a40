"""The curated outlet definitions in feeds/curated/*.toml load and make sense."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selectolax.lexbor import LexborHTMLParser

from aggregator.epaper_html import issue_url
from aggregator.extract import date_from_url
from aggregator.listpage import check_selectors
from aggregator.model import KINDS
from aggregator.sources import load_sources

CURATED = Path(__file__).resolve().parents[1] / "feeds" / "curated"
FILES = sorted(CURATED.glob("*.toml"))
SOURCES = load_sources(FILES)
WANTED_REGIONS = {"320400", "320412", "320600", "320613", "411400"}


def test_there_are_curated_files():
    assert FILES, "feeds/curated/*.toml is empty"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_file_is_documented_and_every_table_has_the_required_fields(path):
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("#"), "a curated file opens with comments about its outlets"
    for table in tomllib.loads(text)["source"]:
        for key in ("id", "name", "url", "kind", "region", "interval", "enabled"):
            assert key in table, f"{path.name}: {table.get('id')} lacks {key}"
        assert re.fullmatch(r"[a-z0-9-]+", table["id"])
        assert re.fullmatch(r"\d{6}", table["region"])
        assert table["enabled"] is False, "curated outlets cannot be reached from CI"


def test_ids_are_unique_and_the_home_regions_are_covered():
    ids = [s.id for s in SOURCES]
    assert len(ids) == len(set(ids))
    assert {s.region for s in SOURCES} >= WANTED_REGIONS


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.id)
def test_source_values(source):
    assert source.kind in KINDS
    assert urlsplit(source.url).scheme in ("http", "https") and urlsplit(source.url).hostname
    assert 60 <= source.interval <= 7 * 86400
    if source.kind == "epaper-html":
        pattern = source.options["page_pattern"]
        day = date(2024, 3, 5)
        url = issue_url(source.url, pattern, day)
        # The rendered issue URL stays on the site and carries the issue date.
        assert urlsplit(url).hostname == urlsplit(source.url).hostname
        assert date_from_url(url) == day, url
    if source.kind == "page":
        check_selectors(source.options)
        probe = LexborHTMLParser("<html><body><p>x</p></body></html>")
        for selector in source.options.get("article", {}).values():
            probe.css(selector)  # raises on a selector that does not compile
