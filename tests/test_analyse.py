"""analyse: the CPU half of storing, in worker processes, gives exactly what the writer would.

Real parts only: a real JSONL file imported through `import_jsonl` into real SQLite files, with
forked worker processes and without them, and the tables compared row for row.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import opencc
import pytest

from aggregator import analyse, store, store_stories
from aggregator.ingest import import_jsonl, record_entry
from aggregator.model import Entry
from aggregator.settings import load_config
from aggregator.tag import build_tagger, tag_entry

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "merge" / "articles.json"


def fixture_articles() -> list[dict]:
    return json.loads(FIXTURES.read_text(encoding="utf-8"))["articles"]


def records(n: int) -> list[str]:
    """JSONL lines: the self-written fixture articles, their reposts, light edits,
    traditional copies and templated look-alikes across outlets, with bad lines mixed in."""
    rng = random.Random(11)
    base = fixture_articles()
    to_hk = opencc.OpenCC("s2hk").convert
    lines: list[str] = []
    for i in range(n):
        src = base[i % len(base)]
        body = src["body"]
        kind = (i // len(base)) % 4
        if kind == 1:  # a light edit: a paragraph dropped, a line added
            paras = body.split("\n\n")
            if len(paras) > 2:
                paras.pop(rng.randrange(len(paras)))
            body = "\n\n".join(paras) + f"\n\n（编辑 {i}）"
        elif kind == 2:
            body = to_hk(body)
        elif kind == 3:  # every number changed: another report of a template
            body = "".join(str((int(c) + 3) % 10) if c.isdigit() else c for c in body)
        outlet = ["wujin-daily", "wire", "cz-news", "nt-daily", "hk-radio"][i % 5]
        lines.append(json.dumps({"id": f"r{i}", "outlet": outlet, "title": src["title"],
                                 "published": src["published"], "url": None, "body": body},
                                ensure_ascii=False))
        if i % 37 == 5:
            lines.append("{not json")
        if i % 41 == 7:
            lines.append(json.dumps({"id": f"x{i}", "body": "没有媒体"}, ensure_ascii=False))
        if i % 43 == 9:  # a headline without a body is an article too
            lines.append(json.dumps({"id": f"h{i}", "outlet": "wire", "title": "武进区发布通告",
                                     "published": src["published"]}, ensure_ascii=False))
    return lines


TABLES = {
    "articles": "SELECT id, uid, source_id, outlet, outlet_name, title, text, summary,"
                " content_html, published, content_hash, ext_id FROM articles ORDER BY id",
    "article_regions": "SELECT * FROM article_regions ORDER BY article_id, code",
    "article_topics": "SELECT * FROM article_topics ORDER BY article_id, slug",
    "articles_fts": "SELECT rowid, title, body FROM articles_fts ORDER BY rowid",
    "stories": "SELECT id, seq, canonical_article, first_published, title, members, merged_into"
               " FROM stories ORDER BY seq",
    "story_articles": "SELECT article_id, story_id, method, similarity, evidence"
                      " FROM story_articles ORDER BY article_id",
    "story_links": "SELECT * FROM story_links ORDER BY story_a, story_b",
    "article_signatures": "SELECT * FROM article_signatures ORDER BY article_id",
    "lsh_bands": "SELECT * FROM lsh_bands ORDER BY bkey, day, article_id",
    "passage_keys": "SELECT * FROM passage_keys ORDER BY pkey, day, article_id",
    "title_keys": "SELECT * FROM title_keys ORDER BY tkey, day, article_id",
}


def dump(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}
    finally:
        conn.close()


def run_import(tmp_path: Path, name: str, lines: list[str], workers: int) -> tuple[dict, Path]:
    db_path = tmp_path / f"{name}.db"
    # One outlet has a home region and default topics, so tagging depends on the outlet.
    db = store.open_db(db_path)
    store.ensure_outlet_source(db, "wujin-daily", "武进日报")
    db.execute("UPDATE sources SET region = '320412', topics = '[\"work-safety\"]'"
               " WHERE id = 'wujin-daily'")
    db.conn.close()
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = load_config(None, {"db": str(db_path)}, env={})
    counts = import_jsonl(config, str(src), batch=50, workers=workers)
    return counts, db_path


@pytest.mark.skipif(analyse.default_workers() == 0 and "fork" not in
                    __import__("multiprocessing").get_all_start_methods(),
                    reason="no fork on this platform")
def test_import_with_workers_stores_exactly_what_inline_import_stores(tmp_path: Path) -> None:
    lines = records(180)
    inline, inline_db = run_import(tmp_path, "inline", lines, workers=0)
    forked, forked_db = run_import(tmp_path, "forked", lines, workers=2)
    assert inline == forked
    bad = sum(1 for line in lines if line.startswith("{not") or "没有媒体" in line)
    assert inline["skipped"] == bad and inline["new"] == inline["read"] - bad
    a, b = dump(inline_db), dump(forked_db)
    for name in TABLES:
        assert a[name] == b[name], name
    # The import had real merging to do: copies joined stories, templated ones did not.
    assert 7 <= len(a["stories"]) < 180
    methods = {row[2] for row in a["story_articles"]}
    assert {"new", "exact"} <= methods and methods - {"new", "exact"}
    # Home region and default topic came through the workers too.
    assert any(row[1] == "320412" for row in b["article_regions"])


def test_a_second_import_of_the_same_file_changes_nothing(tmp_path: Path) -> None:
    lines = records(90)
    first, db_path = run_import(tmp_path, "again", lines, workers=2)
    before = dump(db_path)
    src = tmp_path / "in.jsonl"
    config = load_config(None, {"db": str(db_path)}, env={})
    second = import_jsonl(config, str(src), batch=50, workers=2)
    assert second["new"] == 0 and second["updated"] == 0 and second["read"] == first["read"]
    assert dump(db_path) == before


def test_an_analysis_is_what_the_writer_would_compute() -> None:
    tagger = build_tagger(None)
    for art in fixture_articles():
        entry = record_entry({**art, "outlet": "wire"})
        done = analyse.analyse(tagger, entry, home="320412", topics=("work-safety",), ahead=True)
        tags = tag_entry(tagger, entry, home="320412", topics=("work-safety",))
        assert done.tags == tags
        assert done.print == store_stories.article_print(entry.title, entry.text)
        assert done.fts_text == store.fts_row(entry)
        assert done.tag_rows == store.tag_rows(tags)
        inline = analyse.analyse(tagger, entry, home="320412", topics=("work-safety",))
        assert inline.fts_text is None and inline.tag_rows is None
        assert (inline.tags, inline.print) == (done.tags, done.print)


def test_pipelined_keeps_order_and_bounds_the_work_in_flight() -> None:
    tagger = build_tagger(None)
    base = fixture_articles()
    entries = [Entry(key=f"k{i}", title=base[i % 7]["title"], text=base[i % 7]["body"])
               for i in range(40)]
    with analyse.Analyser(tagger, 2) as analyser:
        got = list(analyse.pipelined(((i, (e, None, ())) for i, e in enumerate(entries)),
                                     analyser, chunk=3, ahead=1))
    assert [i for i, _ in got] == list(range(40))
    for (i, done), entry in zip(got, entries, strict=True):
        assert done.print == store_stories.article_print(entry.title, entry.text), i
        assert done.fts_text == store.fts_row(entry)


def test_a_failing_worker_fails_the_import_loudly() -> None:
    tagger = build_tagger(None)
    bad = (("not an entry", None, ()),)  # tagging it raises inside the worker
    with analyse.Analyser(tagger, 1) as analyser, pytest.raises(AttributeError):
        list(analyse.pipelined([(0, bad[0])], analyser))


def test_default_workers_is_a_sane_count() -> None:
    n = analyse.default_workers()
    assert 0 <= n <= 4
    with pytest.raises(ValueError):
        analyse.Analyser(build_tagger(None), 0)


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_workers_do_not_outlive_an_importer_killed_with_sigkill(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import multiprocessing, sys, time\n"
        "from aggregator import analyse\n"
        "from aggregator.tag import build_tagger\n"
        "a = analyse.Analyser(build_tagger(None), 2)\n"
        "print(' '.join(str(p.pid) for p in multiprocessing.active_children()), flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        workers = [int(x) for x in line.split()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    survivors = [pid for pid in workers if _alive(pid)]
    for pid in survivors:  # never leave them behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert survivors == []
