"""Tagging throughput: regions + topics, articles per second on one core, and memory added.

Run: .venv/bin/python bench/bench_tag.py [--rounds N] [--corpus PATH]

Input is the bodies of ../shared/corpus-dev/articles.jsonl; when that is absent the bench says
so and generates synthetic articles from the taxonomy's own terms mixed with filler. Two
baselines are measured in the same run, on the same texts, so the figures can be compared on
any machine: a plain pass over every character (the floor of any tagger), and the naive
tagger (`term in text` for every term of the taxonomy, its traditional spellings left out).
The region tagger (aggregator.tag_regions) is benched with the topics when it is importable;
otherwise topics are benched alone and the report says so.

Memory: tracemalloc peak while loading the taxonomy (and gazetteer) and building the matchers,
plus the process RSS growth over the whole load (the automata live in C and tracemalloc does
not see them). Targets: >= 1,000 articles/s for regions + topics together, < 150 MB added.
Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregator.tag_topics import tag_topics  # noqa: E402
from aggregator.taxonomy import Taxonomy, load_taxonomy  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
TARGET_RATE = 1000.0
TARGET_MB = 150.0

Article = tuple[str, str]


def rss_mb() -> float:
    """Resident set size now, from /proc (Linux); 0 where unavailable."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def pin_one_core() -> str:
    """Run on a single CPU so the figure is per core whatever the machine."""
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def corpus_articles(path: Path) -> list[Article]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [(r.get("title") or "", r.get("body") or "") for r in rows]


def synthetic_articles(tax: Taxonomy, n: int = 300, seed: int = 7) -> list[Article]:
    """Articles of 200-1500 characters: filler with terms of one to three topics mixed in."""
    rng = random.Random(seed)
    filler = "会议强调，要进一步统一思想认识，压实工作责任，确保各项任务落到实处。"
    out = []
    for _ in range(n):
        topics = rng.sample(tax.topics, rng.randint(1, 3))
        parts = []
        for _ in range(rng.randint(4, 30)):
            topic = rng.choice(topics)
            parts.append(rng.choice(topic.terms)[0] + "工作" + filler[: rng.randint(10, 34)])
        title = rng.choice(topics[0].terms)[0] + "工作推进会召开"
        out.append((title, "".join(parts)))
    return out


def rate(fn: Callable[[str, str], object], articles: list[Article], rounds: int) -> float:
    fn(*articles[0])  # warm-up: lazy builds happen outside the timing
    gc.collect()
    start = time.perf_counter()
    for _ in range(rounds):
        for title, text in articles:
            fn(title, text)
    return rounds * len(articles) / (time.perf_counter() - start)


def naive_topics(tax: Taxonomy) -> Callable[[str, str], object]:
    """The baseline tagger: one substring search per term per article."""
    terms = [(t.slug, term) for t in tax.topics for term, _ in t.terms]

    def tag(title: str, text: str) -> set[str]:
        hay = title + "\n" + text
        return {slug for slug, term in terms if term in hay}

    return tag


def scan_only(title: str, text: str) -> int:
    n = 0
    for ch in text:
        n += ch == "。"
    return n


def load_regions() -> tuple[Callable[[str, str], object] | None, str]:
    """The region tagger bound to the packaged gazetteer, or None with the reason."""
    try:  # written in parallel with this bench: use it only if it is there
        tag_regions = importlib.import_module("aggregator.tag_regions").tag_regions
        load_gazetteer = importlib.import_module("aggregator.gazetteer").load_gazetteer
    except (ImportError, AttributeError) as exc:
        return None, f"region tagger not available ({exc}); benching topics alone"
    gazetteer = load_gazetteer(None)

    def tag(title: str, text: str) -> object:
        return tag_regions(title, text, gazetteer=gazetteer, home=None)

    return tag, "regions: aggregator.tag_regions with load_gazetteer(None)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the articles")
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus-dev" / "articles.jsonl")
    args = parser.parse_args()
    print(f"bench_tag: {pin_one_core()}, Python {sys.version.split()[0]}")

    rss0 = rss_mb()
    tracemalloc.start()
    tax = load_taxonomy()
    terms = tax.index.size
    regions, region_note = load_regions()
    if regions is not None:
        regions("", "")  # builds the gazetteer's matcher now, inside the measurement
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    added = rss_mb() - rss0

    if args.corpus.exists():
        articles = corpus_articles(args.corpus)
        source = f"{args.corpus} ({len(articles)} articles)"
    else:
        articles = synthetic_articles(tax)
        source = f"{args.corpus} is absent: {len(articles)} synthetic articles from the taxonomy"
    chars = sum(len(t) + len(b) for t, b in articles) / len(articles)
    print(f"input: {source}, mean {chars:.0f} characters")
    print(f"taxonomy: {len(tax.topics)} topics, {terms} automaton keys (variants included)")
    print(region_note)

    def topics(title: str, text: str) -> object:
        return tag_topics(title, text, taxonomy=tax)

    def both(title: str, text: str) -> object:
        return regions(title, text), topics(title, text)  # type: ignore[misc]

    rows = [
        ("baseline: plain pass over every character", rate(scan_only, articles, args.rounds)),
        ("baseline: naive `term in text` per term", rate(naive_topics(tax), articles, args.rounds)),
        ("topics (tag_topics)", rate(topics, articles, args.rounds)),
    ]
    if regions is not None:
        rows.append(("regions (tag_regions)", rate(regions, articles, args.rounds)))
        rows.append(("regions + topics", rate(both, articles, args.rounds)))
    for label, value in rows:
        print(f"  {label:<44} {value:>10,.0f} articles/s")
    headline = rows[-1][1]
    what = "regions + topics" if regions is not None else "topics alone"
    verdict = "meets" if headline >= TARGET_RATE else "MISSES"
    print(f"{what}: {headline:,.0f} articles/s {verdict} the {TARGET_RATE:,.0f}/s target")
    verdict = "meets" if max(added, traced_peak / 2**20) < TARGET_MB else "MISSES"
    print(
        f"memory added by loading: RSS +{added:.1f} MB, tracemalloc peak "
        f"{traced_peak / 2**20:.1f} MB ({verdict} the < {TARGET_MB:.0f} MB target)"
    )


if __name__ == "__main__":
    main()
