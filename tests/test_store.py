"""Storage: migrations from an installed wheel, transactions, the Chinese full-text index."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aggregator import fts, store
from aggregator.errors import StorageError
from aggregator.model import Entry

REPO = Path(__file__).resolve().parents[1]


def test_migrations_recorded_once(tmp_path):
    db = store.open_db(tmp_path / "a.db")
    names = [r["name"] for r in db.query("SELECT name FROM schema_migrations ORDER BY version")]
    assert names == [m[1] for m in store.migrations()]
    assert names[0] == "0001_initial.sql"
    db.conn.close()
    again = store.open_db(tmp_path / "a.db")
    assert again.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(names)
    assert again.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_failed_migration_leaves_database_unchanged(tmp_path, monkeypatch):
    db = store.open_db(tmp_path / "a.db")
    real = store.migrations()
    monkeypatch.setattr(
        store,
        "migrations",
        lambda: [*real, (9999, "9999_broken.sql", "CREATE TABLE half (x);\nTHIS IS NOT SQL;")],
    )
    with pytest.raises(StorageError, match="9999_broken.sql"):
        store.migrate(db.conn)
    assert "half" not in db.table_names()
    assert db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] < 9999


def test_wheel_ships_the_migrations(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git missing")
    out = tmp_path / "dist"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = out.glob("aggregator-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "aggregator/db/migrations/0001_initial.sql" in names
    assert any(n.startswith("aggregator/data/") for n in names)
    # installed in a clean target directory, it finds and applies them
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from aggregator import store;"
        "db = store.open_db(sys.argv[2]); print(len(store.migrations()))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(target), str(tmp_path / "w.db")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == len(store.migrations())


def _entry(key: str, title: str, text: str) -> Entry:
    return Entry(key=key, title=title, text=text)


@pytest.fixture
def db(tmp_path):
    d = store.open_db(tmp_path / "a.db")
    store.ensure_outlet_source(d, "src", "来源")
    yield d
    d.conn.close()


def search(db, query: str) -> list[int]:
    expr = fts.match_query(query)
    return [
        r[0]
        for r in db.execute(
            "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? ORDER BY rowid", [expr]
        )
    ]


def test_fulltext_finds_two_character_words_and_phrases(db):
    now = store.utcnow()
    a = store.save_entry(
        db,
        "src",
        _entry("1", "全民反诈再出发", "我区召开信访工作会议。"),
        outlet="src",
        outlet_name=None,
        now=now,
    ).article_id
    b = store.save_entry(
        db,
        "src",
        _entry("2", "安全生产检查", "区委书记检查安全生产工作。"),
        outlet="src",
        outlet_name=None,
        now=now,
    ).article_id
    assert search(db, "反诈") == [a]
    assert search(db, "信访") == [a]
    assert search(db, "安全生产") == [b]
    assert search(db, "区委书记 安全") == [b]
    assert search(db, "区信") == []  # characters adjacent in no article
    assert fts.match_query('" OR NEAR(*') is not None  # operators are inert text
    search(db, '" OR NEAR(*')


def test_update_replaces_not_duplicates(db):
    now = store.utcnow()
    first = store.save_entry(
        db, "src", _entry("k", "标题", "正文一"), outlet="src", outlet_name=None, now=now
    )
    same = store.save_entry(
        db, "src", _entry("k", "标题", "正文一"), outlet="src", outlet_name=None, now=now
    )
    changed = store.save_entry(
        db, "src", _entry("k", "标题", "正文二"), outlet="src", outlet_name=None, now=now
    )
    assert first.created and not same.changed and changed.changed and not changed.created
    assert first.article_id == changed.article_id
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    assert search(db, "正文二") == [first.article_id] and search(db, "正文一") == []


def test_transaction_rolls_back_whole(db):
    with pytest.raises(RuntimeError), store.transaction(db):
        store.save_entry(
            db, "src", _entry("x", "t", "b"), outlet="src", outlet_name=None, now=store.utcnow()
        )
        raise RuntimeError("crash mid-poll")
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM articles_fts").fetchone()[0] == 0


def test_reader_does_not_block_writer(tmp_path):
    d = store.open_db(tmp_path / "a.db")
    store.ensure_outlet_source(d, "src", "来源")
    reader = sqlite3.connect(tmp_path / "a.db")
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM articles").fetchone()  # a long read transaction
    with store.transaction(d):
        store.save_entry(
            d, "src", _entry("1", "t", "b"), outlet="src", outlet_name=None, now=store.utcnow()
        )
    assert reader.execute("SELECT count(*) FROM articles").fetchone()[0] == 0  # its snapshot
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
