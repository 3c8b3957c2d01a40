"""Import throughput end to end: `aggregator import` (normalise, tag, merge, index, store).

Beside it, measured in the same run on the same records: a baseline that only inserts the
rows with sqlite-utils (no tagging, merging or full-text index), i.e. the floor any import
pays for SQLite itself; with --inline, also the import with no worker processes. Records come
from ../shared/corpus-dev when present (repeated with small edits so the merger has real
work), else synthetic Chinese text. The CPU time of the importing process (the one writer)
and of its worker processes is printed beside the wall time, and the load average before and
after: other work on the machine slows an import that needs both cores.

    python bench/bench_import.py [--n 5000] [--workers N] [--inline]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import sqlite_utils

from aggregator.analyse import default_workers
from aggregator.ingest import import_jsonl
from aggregator.settings import load_config

SHARED = Path(__file__).resolve().parents[2] / "shared"
SYLLABLES = ("武进区召开安全生产工作会议部署冬季消防检查湖塘镇牛塘镇推进老旧小区改造"
             "南通市崇川区开展反诈宣传活动家庭医生签约服务疫情防控信访积案化解重点项目")


def records(n: int) -> list[dict]:
    corpus = SHARED / "corpus-dev" / "articles.jsonl"
    rng = random.Random(7)
    base: list[dict] = []
    if corpus.exists():
        base = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    out = []
    for i in range(n):
        if base:
            src = base[i % len(base)]
            body = src["body"]
            if i >= len(base):  # a repost: new outlet, a paragraph dropped or added
                paras = body.split("\n\n")
                if len(paras) > 2 and rng.random() < 0.5:
                    paras.pop(rng.randrange(len(paras)))
                body = "\n\n".join(paras) + f"\n\n（编辑 {i}）"
            out.append({"id": f"r{i}", "outlet": f"outlet{i % 40}", "title": src["title"],
                        "published": src["published"], "url": None, "body": body})
        else:
            body = "".join(rng.choice(SYLLABLES) for _ in range(600))
            out.append({"id": f"r{i}", "outlet": f"outlet{i % 40}", "title": body[:20],
                        "published": "2026-11-20T08:00:00+08:00", "url": None, "body": body})
    return out


def run_import(tmp: Path, name: str, recs_path: Path, workers: int | None) -> dict:
    """One import into a fresh database: wall and CPU seconds (this process, its workers)."""
    config = load_config(None, {"db": str(tmp / f"{name}.db")}, env={})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, t0 = time.process_time(), time.perf_counter()
    counts = import_jsonl(config, str(recs_path), workers=workers)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    db = sqlite_utils.Database(config.db)
    stories = db.execute("SELECT count(*) FROM stories WHERE merged_into IS NULL").fetchone()[0]
    db.conn.close()
    return {"wall": wall, "cpu": cpu, "workers_cpu": child, "counts": counts, "stories": stories}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=None,
                    help="analysis worker processes (default: one per core; 0: none)")
    ap.add_argument("--inline", action="store_true",
                    help="also import with no worker processes, for comparison")
    args = ap.parse_args()
    recs = records(args.n)
    load0 = os.getloadavg()
    runs: list[tuple[str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs),
                        encoding="utf-8")
        base_db = sqlite_utils.Database(Path(tmp) / "base.db")
        t0 = time.perf_counter()
        base_db["articles"].insert_all(recs, batch_size=500)
        base_s = time.perf_counter() - t0
        workers = default_workers() if args.workers is None else args.workers
        runs.append((f"aggregator import, {workers} worker processes",
                     run_import(Path(tmp), "agg", path, workers)))
        if args.inline and workers:
            runs.append(("aggregator import, no worker processes",
                         run_import(Path(tmp), "inline", path, 0)))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load1 = os.getloadavg()
    source = "corpus-dev" if (SHARED / "corpus-dev").exists() else "synthetic"
    print(f"records: {args.n} ({source}); {os.cpu_count()} CPUs; load average "
          f"{load0[0]:.2f} before, {load1[0]:.2f} after")
    print(f"baseline sqlite-utils insert only: {args.n / base_s:,.0f} articles/s")
    for label, r in runs:
        print(f"{label} (tag, merge, fts, store): {args.n / r['wall']:,.0f} articles/s "
              f"({r['wall'] * 1000 / args.n:.2f} ms/article); CPU per article: writer "
              f"{r['cpu'] * 1000 / args.n:.2f} ms, workers {r['workers_cpu'] * 1000 / args.n:.2f}"
              f" ms; {r['counts']}; {r['stories']} stories")
    print(f"peak RSS of the process: {rss_mb:,.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
