"""`aggregator ingest` and `aggregator tag` on the seed documents: the whole pipeline from a
local file to JSON (and, without --dry-run, to the database and the feeds)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from aggregator.cli import main

from .conftest import SHARED

# (file, outlet id, home region) as a real configuration of these outlets would set them
SEEDS = [
    ("001_17113da669383d30.txt", "chongchuan-news", "320613", "2021-11-15"),
    ("002_bea86a44bee5fdb8.txt", "wujin-daily", "320412", "2024-03-05"),
    ("003_f82fa3fc588caa25.txt", "chongchuan-news", "320613", "2022-12-29"),
    ("004_e33989d47b7137ea.txt", "shangqiu-daily", "411400", "2021-11-20"),
]
FIELDS = {"type", "title", "kicker", "subtitle", "reporters", "body", "published", "outlet",
          "position", "regions", "topics"}
ENV = {"AGGREGATOR_CONFIG": "", "AGGREGATOR_FEEDS": "/nonexistent"}


def expected():
    path = SHARED / "seeds" / "expected.json"
    if not path.exists():
        pytest.skip("../shared/seeds not present")
    return json.loads(path.read_text(encoding="utf-8"))["files"]


def run(args: list[str]) -> list[dict]:
    result = CliRunner().invoke(main, args, env=ENV)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("name, outlet, region, day", SEEDS, ids=[s[0][:3] for s in SEEDS])
def test_ingest_epaper_seed_json(tmp_path, name, outlet, region, day):
    files = expected()
    want = files[name]
    items = run(["ingest", str(SHARED / "seeds" / name), "--kind", "epaper-text",
                 "--outlet", outlet, "--region", region, "--date", day, "--json", "--dry-run",
                 "--db", str(tmp_path / "a.db")])
    articles = [i for i in items if i["type"] == "article"]
    photos = [i for i in items if i["type"] == "photo"]
    assert len(articles) == len(want["articles"])
    assert len(photos) == len(want.get("photos", []))
    for item in items:
        assert set(item) >= FIELDS
        assert item["outlet"] == outlet and item["published"].startswith(day)
    for got, exp in zip(articles, want["articles"], strict=True):
        heads = [x for x in (got["kicker"], got["title"], got["subtitle"]) if x]
        exp_heads = [x for x in (exp.get("kicker"), exp["title"], exp.get("subtitle")) if x]
        assert "".join(heads).replace(" ", "") == "".join(exp_heads).replace(" ", "")
        body = got["body"].replace("\n", "").replace(" ", "")
        assert body.startswith(exp["starts"].replace(" ", ""))
        assert body.endswith(exp["ends"].replace(" ", ""))
        levels = {r["level"] for r in got["regions"]}
        codes = {r["code"] for r in got["regions"]}
        # every article gets its page's region, with every level above it present
        assert set(want["regions"]) <= codes, (got["title"], got["regions"])
        assert {"province", "city"} <= levels
        for core in exp["topics"]:
            assert core in {t["slug"] for t in got["topics"]}, (got["title"], core)
    assert not (tmp_path / "a.db").exists() or sqlite3.connect(tmp_path / "a.db").execute(
        "SELECT count(*) FROM articles").fetchone()[0] == 0


def test_ingest_post_seed_and_store(tmp_path):
    files = expected()
    name = "000_a66990130301f0fa.txt"
    db = tmp_path / "a.db"
    (item,) = run(["ingest", str(SHARED / "seeds" / name), "--kind", "posts",
                   "--outlet", "changzhou-daily", "--region", "320400", "--json",
                   "--db", str(db)])
    want = files[name]
    assert item["title"] == want["articles"][0]["title"]
    assert item["outlet_name"] == want["outlet"]
    assert item["published"].startswith("2022-03-08")
    assert {"320400", "320412"} <= {r["code"] for r in item["regions"]}
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    # an outlet id no source defines is accepted, and recorded as undefined
    assert conn.execute("SELECT defined FROM sources WHERE id = 'changzhou-daily'").fetchone() == (0,)
    # ingesting the same file again updates nothing and duplicates nothing
    run(["ingest", str(SHARED / "seeds" / name), "--kind", "posts", "--outlet",
         "changzhou-daily", "--json", "--db", str(db)])
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 1


def test_tag_json_shape(tmp_path):
    text = "湖塘镇开展安全生产大检查\n武进区湖塘镇组织开展安全生产隐患排查，严防事故发生。"
    result = CliRunner().invoke(main, ["tag", "-", "--region", "320412", "--json", "--db",
                                       str(tmp_path / "a.db")], input=text, env=ENV)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"regions", "topics"}
    for r in data["regions"]:
        assert set(r) == {"code", "name", "level", "score"}
    by_code = {r["code"]: r for r in data["regions"]}
    assert by_code["320412"]["level"] == "county" and by_code["320412"]["name"] == "武进区"
    assert by_code["320400"]["level"] == "city" and by_code["320000"]["level"] == "province"
    assert "work-safety" in {t["slug"] for t in data["topics"]}
    assert all(set(t) == {"slug", "name", "score"} for t in data["topics"])
