"""Memory with a big archive: daemon RSS with 1,000,000 stored articles (target <= 300 MB).

The database is built fast but in the real schema: aggregator.store.open_db creates it (so
every migration applies), then plain sqlite3 executemany writes sources, articles,
article_regions (county, city and province rows, as the tagger writes them), article_topics,
stories and story_articles (one story per article, some with a second member) and a year of
fetches. Left out for the old rows, and said so in the output: the full-text index and the
merger's fingerprints (article_signatures, lsh_bands, passage_keys, title_keys); the
articles polled during the run get all of them through the real pipeline.

Then `aggregator run` (a real process) starts on it with 20 sources on a loopback feed
server (bench/feedserver.py, a new item every poll), and this script polls nothing itself:
it waits for the daemon's first polls, asks the index, OPML, every kind of feed and a
spread of region feeds (first asked: cold; then again: cached), and reads VmRSS and VmHWM
from /proc/PID/status after each step. The baseline is the same daemon, same sources and
same requests, on an empty database, in the same run.

    python bench/bench_memory.py [--articles 1000000] [--keep-db PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedserver
from loadutil import (
    REPO,
    aggregator_cmd,
    exit_on_sigterm,
    free_port,
    get,
    machine,
    process,
    status,
    wait_http,
    write_config,
)

from aggregator import store

N_SOURCES = 200
POLLED = 20
DATA = REPO / "aggregator" / "data"


def divisions() -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """(county, city, province) code chains of the packaged gazetteer, and code -> parent."""
    parent: dict[str, str] = {}
    levels: dict[str, str] = {}
    for line in (DATA / "regions.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cols = line.split("\t")
        levels[cols[0]] = cols[2]
        if len(cols) > 3 and cols[3]:
            parent[cols[0]] = cols[3]
    chains = []
    for code, level in levels.items():
        city = parent.get(code, "")
        province = parent.get(city, "")
        if level == "county" and levels.get(city) == "city" and province:
            chains.append((code, city, province))
    return chains, parent


def topic_slugs() -> list[str]:
    data = tomllib.loads((DATA / "topics.toml").read_text(encoding="utf-8"))
    found = [t["slug"] for t in data.get("topic", []) if "slug" in t]
    return found or ["work-safety"]


def build(path: Path, n: int, chars: int, seed: int = 7, fetch_days: int = 365) -> dict:
    """Write n articles (and their tags and stories) straight into the migrated schema."""
    t0 = time.perf_counter()
    store.open_db(path).conn.close()  # creates the file and applies every migration
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    rng = random.Random(seed)
    chains, _ = divisions()
    wujin = next(c for c in chains if c[0] == "320412")
    slugs = topic_slugs()
    paragraphs = []
    for i in range(4000):
        _title, html = feedserver.item_text(i, i + 1)
        text = html.replace("<p>", "").replace("</p>", "\n\n").strip()
        paragraphs.append(text)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT OR IGNORE INTO sources (id, name, url, kind, region, interval, enabled, defined)"
        " VALUES (?, ?, ?, 'feed', ?, 1800, 1, 1)",
        [(f"mem-{s:04d}", f"内存测试源 {s}", f"http://127.0.1.1/feed/{s}.xml",
          rng.choice(chains)[0]) for s in range(N_SOURCES)])
    conn.execute("COMMIT")
    newest = datetime.now(UTC).replace(microsecond=0)
    step = timedelta(seconds=90)  # 1M articles span about three years
    chunk = 20_000
    story_seq = 0
    sid = ""
    for lo in range(1, n + 1, chunk):
        arts, regions, topics, stories, members = [], [], [], [], []
        for aid in range(lo, min(lo + chunk, n + 1)):
            src = f"mem-{aid % N_SOURCES:04d}"
            when = store.iso(newest - step * (n - aid))
            chain = wujin if aid % 4 == 0 else chains[rng.randrange(len(chains))]
            body = "\n\n".join(paragraphs[(aid * k) % len(paragraphs)] for k in (1, 7, 13))
            body = body[:chars]
            title = f"{body[:18]}（{aid}）"
            key = f"mem-{aid}"
            html = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
            arts.append((aid, f"urn:mem:{aid}", src, src, f"内存测试源 {aid % N_SOURCES}", key,
                         f"http://bench.example.cn/{src}/{aid}.html", title, when, when, when,
                         when, body[:120], html, body,
                         hashlib.sha1(key.encode()).hexdigest()))
            for code, level in zip(chain, ("county", "city", "province"), strict=True):
                regions.append((aid, code, level, 1.0 if level == "county" else 0.8))
            topics.append((aid, slugs[aid % len(slugs)], 0.7))
            # one story in five gets a second member (a repost by another outlet)
            if aid % 5 == 1 and sid:
                members.append((aid, sid, "minhash", 0.8, when))  # joins the story just made
                continue
            story_seq += 1
            sid = f"m{story_seq:09d}"
            stories.append((sid, story_seq, aid, when, when, title, 1))
            members.append((aid, sid, "new", 1.0, when))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO articles (id, uid, source_id, outlet, outlet_name, key, url, title,"
            " published, fetched, changed, sort_time, summary, content_html, text,"
            " content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", arts)
        conn.executemany("INSERT INTO article_regions (article_id, code, level, score)"
                         " VALUES (?, ?, ?, ?)", regions)
        conn.executemany("INSERT INTO article_topics (article_id, slug, score) VALUES (?, ?, ?)",
                         topics)
        conn.executemany("INSERT INTO stories (id, seq, canonical_article, first_published,"
                         " updated, title, members) VALUES (?, ?, ?, ?, ?, ?, ?)", stories)
        conn.executemany("INSERT INTO story_articles (article_id, story_id, method, similarity,"
                         " joined) VALUES (?, ?, ?, ?, ?)", members)
        conn.execute("COMMIT")
        print(f"\r  built {min(lo + chunk - 1, n):,} / {n:,} articles", end="", flush=True)
    conn.execute("UPDATE stories SET members = 2 WHERE id IN"
                 " (SELECT story_id FROM story_articles GROUP BY story_id HAVING count(*) > 1)")
    # a year of fetch records for the 200 sources (every 30 minutes, one in ten kept)
    conn.execute("BEGIN")
    start = newest - timedelta(days=fetch_days)
    conn.executemany(
        "INSERT INTO fetches (source_id, url, started, status, bytes, duration_ms, outcome)"
        " VALUES (?, ?, ?, 304, 0, 40, 'not-modified')",
        ((f"mem-{s:04d}", f"http://127.0.1.1/feed/{s}.xml",
          store.iso(start + timedelta(minutes=30 * k))) for k in range(0, fetch_days * 48, 10)
         for s in range(N_SOURCES)))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (
        "articles", "article_regions", "article_topics", "stories", "story_articles",
        "fetches")}
    conn.close()
    print()
    counts["seconds"] = round(time.perf_counter() - t0, 1)
    counts["db_mb"] = round(path.stat().st_size / 2**20)
    return counts


def reader_paths(db: Path, rng: random.Random) -> list[str]:
    chains, _ = divisions()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT id FROM stories ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    paths = ["/healthz", "/", "/opml", "/metrics", "/all", "/region/320412",
             "/source/mem-0005"]
    for fmt in ("atom", "rss", "json"):
        paths += [f"/feeds/all.{fmt}", f"/feeds/region/320412.{fmt}",
                  f"/feeds/region/320400.{fmt}", f"/feeds/region/320000.{fmt}",
                  f"/feeds/topic/work-safety.{fmt}", f"/feeds/region/320412/topic/work-safety.{fmt}",
                  f"/feeds/source/mem-0001.{fmt}"]
    paths += [f"/feeds/region/{c[0]}.atom" for c in rng.sample(chains, 30)]
    if row:
        paths.append(f"/story/{row[0]}")
    return paths


def ask(port: int, paths: list[str], pid: int, *, timeout: float, deadline: float,
        verbose: bool) -> tuple[float, str, float, int]:
    """GET every path in turn (until `deadline`, a monotonic time); returns (total seconds,
    slowest path, its seconds, failures). A request that times out keeps running in the
    server, so the next ones may find it busy: that is counted, not hidden."""
    total, slowest, worst, bad = 0.0, "", 0.0, 0
    for i, path in enumerate(paths):
        if time.monotonic() > deadline:
            print(f"    deadline passed: {len(paths) - i} paths not asked", flush=True)
            bad += len(paths) - i
            break
        t = time.perf_counter()
        try:
            code = get("127.0.0.1", port, path, {"Accept-Encoding": "gzip"}, timeout=timeout)[0]
        except OSError:
            code = 0  # timed out (or refused)
        took = time.perf_counter() - t
        total += took
        bad += code not in (200, 404)
        if took > worst:
            slowest, worst = path, took
        if verbose or took > 1.0 or code not in (200, 404):
            st = status(pid)
            print(f"    GET {path:48} {code or 'timeout':>7} {took:8.2f}s  VmRSS "
                  f"{st['VmRSS'] / 1024:6.1f} MB  VmHWM {st['VmHWM'] / 1024:6.1f} MB", flush=True)
    return total, slowest, worst, bad


def run_daemon(db: Path, tmp: Path, label: str, fport: int, paths: list[str], *,
               second_round: bool = True, timeout: float = 300,
               deadline: float = 900) -> list[dict]:
    feeds = tmp / f"feeds-{label}"
    feeds.mkdir()
    (feeds / "mem.toml").write_text("\n".join(
        f'[[source]]\nid = "mem-{i:04d}"\nname = "内存测试源 {i}"\n'
        f'url = "{feedserver.feed_url(i, 10, fport)}"\nregion = "320412"\ninterval = 60\n'
        "allow_private = true\n" for i in range(POLLED)), encoding="utf-8")
    port = free_port()
    cfg = write_config(tmp / f"{label}.toml", db=str(db), feeds=str(feeds), host="127.0.0.1",
                       port=port, log_level="WARNING")
    steps: list[dict] = []

    def note(step: str, pid: int, extra: str = "") -> None:
        st = status(pid)
        steps.append({"db": label, "step": step, "rss_mb": st["VmRSS"] / 1024,
                      "hwm_mb": st["VmHWM"] / 1024, "threads": st["Threads"], "note": extra})
        print(f"  {label:6} {step:28} VmRSS {st['VmRSS'] / 1024:7.1f} MB  "
              f"VmHWM {st['VmHWM'] / 1024:7.1f} MB  threads {st['Threads']:2d}  {extra}",
              flush=True)

    with process([*aggregator_cmd(), "run", "--config", str(cfg)],
                 log=tmp / f"{label}.log") as daemon:
        t0 = time.perf_counter()
        wait_http("127.0.0.1", port, "/healthz", daemon, deadline=300)
        note("started", daemon.pid, f"healthz after {time.perf_counter() - t0:.1f}s")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the first poll of every defined source
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
            try:
                done = conn.execute(
                    "SELECT count(DISTINCT source_id) FROM fetches WHERE started >= ?",
                    [store.iso(datetime.now(UTC) - timedelta(minutes=10))]).fetchone()[0]
            finally:
                conn.close()
            if done >= POLLED:
                break
            time.sleep(1)
        note("first polls done", daemon.pid, f"{done} sources polled")
        end = time.monotonic() + deadline
        total, slowest, worst, bad = ask(port, paths, daemon.pid, timeout=timeout, deadline=end,
                                         verbose=label != "empty")
        note("every path asked (cold)", daemon.pid,
             f"{len(paths)} GETs in {total:.1f}s, slowest {slowest} {worst:.2f}s, {bad} failed")
        end = time.monotonic() + deadline
        total, slowest, worst, bad = ask(port, paths, daemon.pid, timeout=timeout, deadline=end,
                                         verbose=False)
        note("asked again (cached)", daemon.pid,
             f"{len(paths)} GETs in {total:.1f}s, slowest {slowest} {worst:.2f}s, {bad} failed")
        if not second_round:
            return steps
        time.sleep(70)  # a second round of polls: every feed has a new item, caches drop
        end = time.monotonic() + deadline
        total, slowest, worst, bad = ask(port, paths, daemon.pid, timeout=timeout, deadline=end,
                                         verbose=False)
        note("after 2nd polls, asked again", daemon.pid,
             f"{len(paths)} GETs in {total:.1f}s, slowest {slowest} {worst:.2f}s, {bad} failed")
    return steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--chars", type=int, default=600, help="characters of text per article")
    ap.add_argument("--keep-db", type=Path,
                    help="build the big database here, or reuse it when it exists")
    ap.add_argument("--request-timeout", type=float, default=300.0,
                    help="seconds one GET may take")
    ap.add_argument("--deadline", type=float, default=900.0,
                    help="seconds each pass over the paths may take in all")
    ap.add_argument("--only", nargs="*", help="ask only these paths (e.g. /feeds/all.atom)")
    ap.add_argument("--smoke", action="store_true", help="2,000 articles, one round of polls")
    args = ap.parse_args()
    if args.smoke:
        args.articles = 2000
    exit_on_sigterm()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="aggregator-bench-memory-") as tmp_s:
        tmp = Path(tmp_s)
        built = args.keep_db or tmp / "built.db"
        if built.exists():
            print(f"reusing {built} ({built.stat().st_size / 2**20:,.0f} MB)")
        else:
            print(f"building {args.articles:,} articles in {built} (no FTS rows and no merge "
                  "fingerprints for these old articles; everything else as the pipeline "
                  "stores it)", flush=True)
            print("  built:", json.dumps(build(built, args.articles, args.chars,
                                               fetch_days=7 if args.smoke else 365)), flush=True)
        big = tmp / "big.db"
        if built != big:  # the daemon writes (polls, archive pages): keep the built one clean
            shutil.copyfile(built, big)
        empty = tmp / "empty.db"
        store.open_db(empty).conn.close()
        paths = args.only or reader_paths(big, random.Random(3))
        steps = []
        with feedserver.running(POLLED, 10, "grow") as (_server, fport):
            for label, db in (("empty", empty), ("big", big)):
                steps += run_daemon(db, tmp, label, fport, paths, second_round=not args.smoke,
                                    timeout=args.request_timeout, deadline=args.deadline)
    last = {s["db"]: s for s in steps}
    peak = {db: max(s["hwm_mb"] for s in steps if s["db"] == db) for db in last}
    print()
    print(f"{'database':10} {'VmRSS end MB':>13} {'VmHWM MB':>9}")
    for db in ("empty", "big"):
        print(f"{db:10} {last[db]['rss_mb']:13.1f} {peak[db]:9.1f}")
    print(f"target VmRSS <= 300 MB with the big database: "
          f"{'met' if peak['big'] <= 300 else 'NOT met'} (peak {peak['big']:.1f} MB, "
          f"{peak['big'] - peak['empty']:+.1f} MB over the empty-database baseline)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
