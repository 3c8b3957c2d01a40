"""Benchmark the merger's cost as the archive grows: 10k against 1M stored articles.

For each size N the script builds an archive of N synthetic articles written straight into
the merger's tables (random fingerprints and index keys, 1,400 articles a day, so a bigger
archive covers more days at the same density, as a real one does). Then, in a fresh process
(so its memory is its own), it merges R real articles (../shared corpus, else the self-written
test set) dated at the newest days, which mostly found new stories, and then copies of them made
by bench/merge_eval.py's transformations, which join them; one at a time, timing each, all
rolled back. It reports per-article merge cost, LSH lookup time, index bytes per article and
the process's peak memory; beside it, in the same run, a baseline: brute-force comparison with
every signature in the time window, what the band index replaces.

    .venv/bin/python bench/bench_merge.py [--sizes 10000,1000000] [--workdir /tmp/bench]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import merge_eval  # noqa: E402

from aggregator import fingerprint, store, store_stories  # noqa: E402

PER_DAY = 1400
END = datetime(2024, 11, 30, tzinfo=UTC)
OWN = ROOT / "tests" / "fixtures" / "merge" / "articles.json"


def real_items(limit: int) -> list[merge_eval.Item]:
    """Real articles (../shared corpus if present, else the self-written set), moved so that
    they are the newest in the archive."""
    try:
        articles, groups = merge_eval.load_corpus()
    except FileNotFoundError:
        articles, groups = json.loads(OWN.read_text(encoding="utf-8"))["articles"], []
    items = merge_eval.originals(articles, groups)[:limit]
    rng = random.Random(3)
    return [replace(i, published=END - timedelta(hours=rng.uniform(24, 72))) for i in items]


def _synthetic(conn: sqlite3.Connection, n: int, seed: int = 1) -> None:
    """n articles with random fingerprints, written straight into the merger's tables."""
    rng = random.Random(seed)
    days = max(1, n // PER_DAY)
    end_day = (END - datetime(1970, 1, 1, tzinfo=UTC)).days - 4
    conn.execute(
        "INSERT OR IGNORE INTO sources (id, name, url, kind, interval) VALUES"
        " ('synthetic', 'synthetic', '', 'ingest', 86400)"
    )
    conn.execute("CREATE TEMP TABLE tb (k INTEGER, d INTEGER, a INTEGER)")
    conn.execute("CREATE TEMP TABLE tp (k INTEGER, d INTEGER, a INTEGER)")
    conn.execute("CREATE TEMP TABLE tt (k INTEGER, d INTEGER, a INTEGER)")
    chunk = 50_000
    for start in range(1, n + 1, chunk):
        ids = range(start, min(n, start + chunk - 1) + 1)
        arts, sigs, bands, passages, titles, stories, members = [], [], [], [], [], [], []
        for aid in ids:
            day = end_day - (aid * days) // n
            when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day, seconds=aid % 86400)
            iso = store.iso(when)
            arts.append((aid, f"urn:synthetic:{aid}", f"k{aid}", iso))
            mh = rng.randbytes(2 * fingerprint.NUM_PERM)
            sig = fingerprint.Signature(rng.getrandbits(63), 800, 790, mh, ())
            pk = [rng.getrandbits(47) for _ in range(fingerprint.PASSAGE_KEYS)]
            sigs.append((aid, sig.text_hash, 800, iso, day, "", sig.to_bytes(), b""))
            bands.extend((k, day, aid) for k in fingerprint.band_keys(sig))
            passages.extend((k, day, aid) for k in pk)
            titles.extend((rng.getrandbits(47), day, aid) for _ in range(fingerprint.TITLE_KEYS))
            sid = f"x{aid:012d}"
            stories.append((sid, aid, aid, iso, iso))
            members.append((aid, sid, iso))
        conn.executemany(
            "INSERT INTO articles (id, uid, source_id, outlet, key, title, published, fetched,"
            " changed, sort_time, content_hash) VALUES (?, ?, 'synthetic', 'synthetic', ?, '',"
            " ?4, ?4, ?4, ?4, '')",
            arts,
        )
        conn.executemany(
            "INSERT INTO article_signatures (article_id, norm_hash, length, published, day,"
            " title_norm, sig, passages) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            sigs,
        )
        conn.executemany("INSERT INTO tb VALUES (?, ?, ?)", bands)
        conn.executemany("INSERT INTO tp VALUES (?, ?, ?)", passages)
        conn.executemany("INSERT INTO tt VALUES (?, ?, ?)", titles)
        conn.executemany(
            "INSERT INTO stories (id, seq, canonical_article, first_published, updated)"
            " VALUES (?, ?, ?, ?, ?)",
            stories,
        )
        conn.executemany(
            "INSERT INTO story_articles (article_id, story_id, method, joined)"
            " VALUES (?, ?, 'new', ?)",
            members,
        )
    # Sorted bulk copies: B-tree appends instead of random inserts.
    for tmp, table in (("tb", "lsh_bands"), ("tp", "passage_keys"), ("tt", "title_keys")):
        conn.execute(f"INSERT OR IGNORE INTO {table} SELECT k, d, a FROM {tmp} ORDER BY k, d, a")
        conn.execute(f"DROP TABLE {tmp}")


def build(path: Path, n: int, reals: list[merge_eval.Item]) -> float:
    """Create the archive at `path`; returns seconds taken."""
    started = time.perf_counter()
    if path.exists():
        path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    db = store.open_db(path)
    db.conn.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    conn.execute("BEGIN")
    _synthetic(conn, n)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def _peak_rss_mb() -> float:
    """This process's peak resident memory. Not ru_maxrss: a child started by fork and exec
    inherits its parent's high-water mark there; VmHWM starts afresh with the new program."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bytes(conn: sqlite3.Connection, *tables: str) -> int:
    names = ",".join("?" * len(tables))
    row = conn.execute(
        f"SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN ({names})", tables
    ).fetchone()
    return row[0]


def measure(path: Path, reals: list[merge_eval.Item], seed: int = 5, cache_mb: int = 0) -> dict:
    """Merge the real articles (new stories: "fresh"), then copies of them ("copies"), one at
    a time, timing each; everything is rolled back so the archive can be measured again."""
    rss_before = _peak_rss_mb()
    db = store.open_db(path)
    conn = db.conn
    if cache_mb:
        conn.execute(f"PRAGMA cache_size = -{cache_mb * 1024}")
    n = conn.execute("SELECT COUNT(*) FROM article_signatures").fetchone()[0]
    copies = []
    for kind in ("repost", "light", "traditional", "abridged", "heavy"):
        copies += merge_eval.make_variants(reals, kind, seed)
    ids = merge_eval.insert_articles(db, reals + copies)
    fresh_ms, merge_ms, lookup_ms, joined = [], [], [], 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        for item in reals:
            t0 = time.perf_counter()
            store_stories.index_and_merge(db, ids[item.key])
            fresh_ms.append(1000 * (time.perf_counter() - t0))
        for item in copies:
            art = store_stories._load_article(conn, ids[item.key])
            keys = fingerprint.band_keys(art.view.signature)
            day = store_stories._day(art.when)
            t0 = time.perf_counter()
            store_stories._keyed(conn, "lsh_bands", keys, day - 7, day + 7, 48)
            lookup_ms.append(1000 * (time.perf_counter() - t0))
            t0 = time.perf_counter()
            result = store_stories.index_and_merge(db, ids[item.key])
            merge_ms.append(1000 * (time.perf_counter() - t0))
            joined += result.method != "new"
        brute_ms = _brute_force(conn, copies[:20], ids)
    finally:
        conn.execute("ROLLBACK")
    both = fresh_ms + merge_ms
    out = {
        "articles": n,
        "merged": len(both),
        "copies_joined_a_story": f"{joined}/{len(copies)}",
        "merge_ms_median": statistics.median(both),
        "merge_ms_mean": statistics.fmean(both),
        "merge_ms_p95": sorted(both)[int(0.95 * len(both))],
        "fresh_ms_median": statistics.median(fresh_ms),
        "copies_ms_median": statistics.median(merge_ms),
        "lsh_lookup_ms_median": statistics.median(lookup_ms),
        "brute_force_ms_mean": brute_ms,
        "band_index_bytes_per_article": _bytes(conn, "lsh_bands") / n,
        "all_merge_index_bytes_per_article": _bytes(
            conn,
            "lsh_bands",
            "passage_keys",
            "title_keys",
            "article_signatures",
            "article_signatures_hash",
        )
        / n,
        "db_bytes": path.stat().st_size,
        "peak_rss_mb_before": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
    }
    conn.close()
    return out


def _brute_force(conn: sqlite3.Connection, items, ids) -> float:
    """Baseline: compare with every stored signature in the ±7-day window (no index)."""
    times = []
    for item in items:
        art = store_stories._load_article(conn, ids[item.key])
        day = store_stories._day(art.when)
        t0 = time.perf_counter()
        best = 0.0
        for (blob,) in conn.execute(
            "SELECT sig FROM article_signatures WHERE day BETWEEN ? AND ?", (day - 7, day + 7)
        ):
            j = fingerprint.jaccard(art.view.signature, fingerprint.Signature.from_bytes(blob))
            best = max(best, j)
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.fmean(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,1000000")
    ap.add_argument("--reals", type=int, default=220)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench_merge"))
    ap.add_argument("--reuse", action="store_true", help="keep archives built earlier")
    ap.add_argument("--cache-mb", type=int, default=0, help="SQLite page cache for merging")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    reals = real_items(args.reals)
    if args.measure:
        print(json.dumps(measure(args.measure, reals, cache_mb=args.cache_mb)))
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        path = args.workdir / f"archive_{n}.db"
        built = None
        if not (args.reuse and path.exists()):
            built = build(path, n, reals)
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                str(path),
                "--reals",
                str(args.reals),
                "--cache-mb",
                str(args.cache_mb),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["build_s"] = built
        results.append(r)
        print(
            f"N={r['articles']:>9,}  merge/article median {r['merge_ms_median']:.2f} ms"
            f" (mean {r['merge_ms_mean']:.2f}, p95 {r['merge_ms_p95']:.2f};"
            f" new stories {r['fresh_ms_median']:.2f}, copies {r['copies_ms_median']:.2f}),"
            f" LSH lookup {r['lsh_lookup_ms_median']:.3f} ms,"
            f" brute force {r['brute_force_ms_mean']:.1f} ms,"
            f" bands {r['band_index_bytes_per_article']:.0f} B/article"
            f" (all merge tables {r['all_merge_index_bytes_per_article']:.0f} B),"
            f" peak RSS {r['peak_rss_mb']:.0f} MB, copies joined {r['copies_joined_a_story']}",
            flush=True,
        )
    if len(results) >= 2:
        ratio = results[-1]["merge_ms_median"] / results[0]["merge_ms_median"]
        print(f"per-article merge cost, largest vs smallest archive: {ratio:.2f}x")
    (args.workdir / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
