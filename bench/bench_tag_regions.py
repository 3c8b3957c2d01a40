"""Region tagging throughput and memory, with and without imported townships.

Run: .venv/bin/python bench/bench_tag_regions.py [--rounds N] [--home CODE]

Input is the titles and bodies of ../shared/corpus-dev/articles.jsonl. The gazetteer is
measured twice: as packaged (provinces, cities, counties, zones) and with the township lists
of ../shared/geodata imported (NBS streets.csv and AreaCity, ~47,000 units), which is what a
deployment that ran `aggregator geo import` tags with. Memory is the process RSS growth while
loading the gazetteer and building its automaton. Figures are printed, not asserted; the
combined regions + topics figure is bench/bench_tag.py's.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator.gazetteer import Gazetteer, build_gazetteer  # noqa: E402
from aggregator.gazetteer_import import import_divisions  # noqa: E402
from aggregator.tag_regions import matcher_for, tag_regions  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def load(with_towns: bool) -> tuple[Gazetteer, float, float]:
    gc.collect()
    before, t0 = rss_mb(), time.perf_counter()
    rows = []
    if with_towns:
        geo = SHARED / "geodata"
        rows = import_divisions(geo / "streets.csv")
        rows += import_divisions(geo / "areacity" / "ok_data_level4.csv")
    gaz = build_gazetteer(rows)
    matcher_for(gaz)
    del rows
    gc.collect()
    return gaz, time.perf_counter() - t0, rss_mb() - before


def run(gaz: Gazetteer, articles: list[tuple[str, str]], rounds: int, home: str | None) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for title, body in articles:
            tag_regions(title, body, gazetteer=gaz, home=home)
        best = min(best, time.perf_counter() - t0)
    return len(articles) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--home", default=None, help="home region code for every article")
    args = parser.parse_args()
    corpus = SHARED / "corpus-dev" / "articles.jsonl"
    if not corpus.exists():
        sys.exit(f"{corpus} not found: the bench needs ../shared/corpus-dev")
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    articles = [(r.get("title") or "", r.get("body") or "") for r in rows]
    chars = sum(len(t) + len(b) for t, b in articles) / len(articles)
    print(f"{len(articles)} articles, {chars:.0f} characters on average")
    variants = [False, True] if (SHARED / "geodata" / "streets.csv").exists() else [False]
    for with_towns in variants:
        gaz, seconds, mb = load(with_towns)
        rate = run(gaz, articles, args.rounds, args.home)
        tagged = sum(1 for t, b in articles if tag_regions(t, b, gazetteer=gaz, home=args.home))
        label = "with townships" if with_towns else "packaged only"
        print(
            f"{label:15} {len(gaz):6d} divisions  load+automaton {seconds:5.2f}s  "
            f"+{mb:5.1f} MB  {rate:7.0f} articles/s  {tagged} of {len(articles)} tagged"
        )


if __name__ == "__main__":
    main()
