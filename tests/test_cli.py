"""The command line: --help everywhere, documented in the README, JSON-only stdout."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from aggregator.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def all_commands(group: click.Group = main, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        path = (*prefix, name)
        yield path, cmd
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, path)


COMMANDS = [p for p, _ in all_commands()]


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_command_has_help(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    cmd = dict(all_commands())[path]
    if not isinstance(cmd, click.Group):
        assert "--db" in result.output and "--config" in result.output


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_readme_documents_every_command(path):
    text = README.read_text(encoding="utf-8")
    assert re.search(r"aggregator " + r" ".join(map(re.escape, path)) + r"\b", text), path


def test_stats_json_is_json_only(tmp_path):
    result = CliRunner().invoke(
        main, ["stats", "--json", "--db", str(tmp_path / "a.db")], env={"AGGREGATOR_CONFIG": ""}
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["articles"] == 0 and data["sources"] == 0


def test_import_keeps_record_ids_and_accepts_unknown_outlets(tmp_path):
    records = [
        {
            "id": "rec-1",
            "outlet": "newoutlet",
            "outlet_name": "新媒体",
            "title": "武进区召开会议",
            "published": "2026-11-20T08:00:00+08:00",
            "url": "http://x.example.cn/1",
            "body": "武进区召开安全生产工作会议，部署冬季安全生产工作。",
        },
        {
            "id": "rec-2",
            "outlet": "newoutlet",
            "title": "第二条",
            "published": "2026-11-21",
            "url": None,
            "body": "南通市崇川区开展反诈宣传活动。",
        },
        "not an object",
    ]
    path = tmp_path / "a.jsonl"
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n{bad\n", encoding="utf-8"
    )
    db = tmp_path / "a.db"
    result = CliRunner().invoke(
        main, ["import", str(path), "--json", "--db", str(db)], env={"AGGREGATOR_CONFIG": ""}
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == {"read": 4, "new": 2, "updated": 0, "skipped": 2}
    conn = sqlite3.connect(db)
    assert sorted(r[0] for r in conn.execute("SELECT ext_id FROM articles")) == ["rec-1", "rec-2"]
    assert conn.execute("SELECT defined FROM sources WHERE id = 'newoutlet'").fetchone() == (0,)
    # a second import of the same records updates nothing and duplicates nothing
    result = CliRunner().invoke(
        main, ["import", str(path), "--json", "--db", str(db)], env={"AGGREGATOR_CONFIG": ""}
    )
    assert json.loads(result.stdout)["new"] == 0
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 2


def test_opml_import_then_export_round_trip(tmp_path):
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>subs</title></head><body>'
        '<outline text="新闻"><outline text="Changzhou Daily" type="rss" '
        'xmlUrl="http://cz.example.cn/rss.xml" htmlUrl="http://cz.example.cn/"/>'
        '<outline text="南通日报" xmlUrl="http://nt.example.cn/feed"/></outline></body></opml>',
        encoding="utf-8",
    )
    env = {"AGGREGATOR_CONFIG": ""}
    args = ["--db", str(tmp_path / "a.db"), "--feeds", str(feeds)]
    result = CliRunner().invoke(main, ["opml", "import", str(opml), *args], env=env)
    assert result.exit_code == 0, result.output
    assert "added 2 sources" in result.output
    again = CliRunner().invoke(main, ["opml", "import", str(opml), *args], env=env)
    assert "added 0 sources" in again.output
    result = CliRunner().invoke(main, ["opml", "export", *args], env=env)
    assert result.exit_code == 0
    assert "http://cz.example.cn/rss.xml" in result.stdout
    assert "http://nt.example.cn/feed" in result.stdout
    listed = CliRunner().invoke(main, ["sources", "list", "--json", *args], env=env)
    ids = [json.loads(line)["id"] for line in listed.stdout.splitlines()]
    assert len(ids) == 2 and "changzhou-daily" in ids
