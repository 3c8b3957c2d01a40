"""Import throughput end to end: `aggregator import` (normalise, tag, merge, index, store).

Beside it, measured in the same run on the same records: a baseline that only inserts the
rows with sqlite-utils (no tagging, merging or full-text index), i.e. the floor any import
pays for SQLite itself. Records come from ../shared/corpus-dev when present (repeated with
small edits so the merger has real work), else synthetic Chinese text.

    python bench/bench_import.py [--n 5000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import sqlite_utils

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    recs = records(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs),
                        encoding="utf-8")
        base_db = sqlite_utils.Database(Path(tmp) / "base.db")
        t0 = time.perf_counter()
        base_db["articles"].insert_all(recs, batch_size=500)
        base_s = time.perf_counter() - t0

        config = load_config(None, {"db": str(Path(tmp) / "agg.db")}, env={})
        t0 = time.perf_counter()
        counts = import_jsonl(config, str(path))
        ours_s = time.perf_counter() - t0
        db = sqlite_utils.Database(config.db)
        stories = db.execute("SELECT count(*) FROM stories WHERE merged_into IS NULL").fetchone()[0]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"records: {args.n} ({'corpus-dev' if (SHARED / 'corpus-dev').exists() else 'synthetic'})")
    print(f"baseline sqlite-utils insert only: {args.n / base_s:,.0f} articles/s")
    print(f"aggregator import (tag, merge, fts, store): {args.n / ours_s:,.0f} articles/s "
          f"({ours_s * 1000 / args.n:.2f} ms/article); {counts}; {stories} stories")
    print(f"peak RSS of the process: {rss_mb:,.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
