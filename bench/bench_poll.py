"""Poll cycle under load: 10,000 sources, 95 % answering 304, 5 % with one new item.

A loopback feed server (bench/feedserver.py, its own process) serves 10,000 small RSS
feeds over 100 hosts (127.0.1.1 … 127.0.1.100 × 100 feeds), honouring conditional GET. One
cycle of our Poller (aggregator.pipeline.Poller with aggregator.fetch.Fetcher and a
writer.Writer on a temp DB whose sources were synced with store.sync_sources) warms up and
stores every validator; then the server moves 5 % of the feeds on by one item and a second
cycle is measured: wall time and CPU of this process (the writer thread included).

The baseline, in the same run, against the same server and the same changed share: a bare
aiohttp client making the same requests with the same conditional headers, the same
concurrency (a semaphore) and the same per-host limit (connector limit_per_host), and doing
nothing with the bodies. Both are measured at the product's settings (concurrency 16,
per_host 2) and at concurrency 64. Each measurement is repeated (`--rounds`) after a new
bump and the median reported. A third line adds what the daemon's scheduler does after
every poll (store next_poll), as `aggregator poll --once` does.

Target: our cycle within 2x of the bare client's wall time.

    python bench/bench_poll.py [--sources 10000] [--hosts 100] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import feedserver
from loadutil import cpu_seconds, get, machine

from aggregator import store
from aggregator.fetch import Fetcher, default_user_agent
from aggregator.model import SourceDef
from aggregator.pipeline import Poller
from aggregator.scheduler import Schedule
from aggregator.writer import Writer

ACCEPT = ("application/atom+xml, application/rss+xml, application/feed+json, "
          "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8")


@dataclass
class Cycle:
    wall: float
    cpu: float
    server_cpu: float
    outcomes: Counter
    new: int = 0


def cpu_now() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def measure(work: Awaitable[tuple[Counter, int]], server_pid: int) -> Cycle:
    """Run one cycle (a coroutine not yet started) and time it."""
    c0, s0, t0 = cpu_now(), cpu_seconds(server_pid), time.perf_counter()
    outcomes, new = await work
    wall = time.perf_counter() - t0
    return Cycle(wall, cpu_now() - c0, cpu_seconds(server_pid) - s0, outcomes, new)


class Bare:
    """The floor: plain aiohttp GETs with stored validators, bodies read and dropped."""

    def __init__(self, urls: list[str]):
        self.urls = urls
        self.validators: dict[str, tuple[str | None, str | None]] = {}

    async def cycle(self, concurrency: int, per_host: int) -> tuple[Counter, int]:
        limit = asyncio.Semaphore(concurrency)
        outcomes: Counter = Counter()
        # the same connector and session settings as aggregator.daemon.make_fetcher
        connector = aiohttp.TCPConnector(limit=concurrency * 2, limit_per_host=per_host,
                                         ttl_dns_cache=300)
        async with aiohttp.ClientSession(
            connector=connector, auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=30, sock_connect=10, sock_read=30),
            headers={"User-Agent": default_user_agent(), "Accept-Encoding": "gzip, deflate"},
        ) as session:

            async def one(url: str) -> None:
                headers = {"Accept": ACCEPT}
                etag, modified = self.validators.get(url, (None, None))
                if etag:
                    headers["If-None-Match"] = etag
                if modified:
                    headers["If-Modified-Since"] = modified
                async with limit, session.get(url, headers=headers) as resp:
                    await resp.read()
                    outcomes[resp.status] += 1
                    if resp.status == 200:
                        self.validators[url] = (resp.headers.get("ETag"),
                                                resp.headers.get("Last-Modified"))

            await asyncio.gather(*(one(u) for u in self.urls))
        return outcomes, outcomes[200]


class Ours:
    """The product's path: Poller + Fetcher + Writer, optionally with the scheduler's step."""

    def __init__(self, writer: Writer, sources: list[SourceDef]):
        self.writer = writer
        self.sources = sources

    async def cycle(self, concurrency: int, per_host: int, *,
                    reschedule: bool = False) -> tuple[Counter, int]:
        # the same construction as aggregator.daemon.make_fetcher
        async with Fetcher(per_host=per_host, concurrency=concurrency * 2) as fetcher:
            poller = Poller(self.writer, fetcher, concurrency=concurrency)
            schedule = Schedule(poller, jitter=0.1)

            async def one(s: SourceDef):
                result = await poller.poll(s)
                if reschedule:
                    await schedule._reschedule(s, result)
                return result

            results = await asyncio.gather(*(one(s) for s in self.sources))
        return Counter(r.outcome for r in results), sum(r.new for r in results)


def fmt(c: Cycle) -> str:
    return (f"wall {c.wall:7.2f}s  cpu {c.cpu:7.2f}s  server cpu {c.server_cpu:6.2f}s  "
            f"outcomes {dict(sorted(c.outcomes.items(), key=str))}  new {c.new}")


def median_cycle(cycles: list[Cycle]) -> Cycle:
    """The middle one by wall time (of an even number, the faster of the middle two)."""
    ranked = sorted(cycles, key=lambda c: c.wall)
    return ranked[(len(ranked) - 1) // 2]


async def bench(n: int, hosts: int, rounds: int, concurrencies: list[int], per_host: int,
                fraction: float, tmp: Path) -> dict:
    with feedserver.running(n, hosts, "bump") as (server, port):
        urls = [feedserver.feed_url(i, hosts, port) for i in range(n)]
        sources = [SourceDef(id=f"s{i:05d}", name=f"负载测试源 {i}", url=u,
                             region="320412" if i % 2 else "320600", interval=3600,
                             allow_private=True) for i, u in enumerate(urls)]
        writer = Writer(tmp / "poll.db")
        await writer.start()
        await writer.write(store.sync_sources, sources)
        bare, ours = Bare(urls), Ours(writer, sources)

        warm_b = await measure(bare.cycle(concurrencies[0], per_host), server.pid)
        print(f"warm-up bare  (all 200): {fmt(warm_b)}", flush=True)
        warm_o = await measure(ours.cycle(concurrencies[0], per_host), server.pid)
        print(f"warm-up ours  (all 200, stores {n} articles): {fmt(warm_o)}", flush=True)
        # the scheduler variant polls a copy of the warm database, so that after each bump
        # all three clients find exactly the same feeds changed
        await writer.call(lambda db: db.conn.execute(f"VACUUM INTO '{tmp / 'poll2.db'}'"))
        writer2 = Writer(tmp / "poll2.db")
        clients = {"bare": bare, "ours": ours, "ours+reschedule": Ours(writer2, sources)}

        figures: dict = {}
        # the last scenario changes (almost) nothing: the cost of the 304 path alone, so
        # the difference says what the changed feeds' new articles cost
        scenarios = [(conc, fraction) for conc in concurrencies] + [(concurrencies[0], 0.0)]
        for conc, share in scenarios:
            got: dict[str, list[Cycle]] = {name: [] for name in clients}
            for r in range(rounds):
                changed = json_get(port, f"/_bump?fraction={share}")["changed"]
                for name, client in clients.items():
                    if isinstance(client, Bare):
                        work = client.cycle(conc, per_host)
                    else:
                        work = client.cycle(conc, per_host, reschedule=name != "ours")
                    c = await measure(work, server.pid)
                    got[name].append(c)
                    print(f"  c={conc:3d} round {r + 1} {name:16s} ({changed} changed): {fmt(c)}",
                          flush=True)
            figures[f"c={conc} {share:.0%}"] = {k: median_cycle(v) for k, v in got.items()}
        writer.close()
        writer2.close()
        return {"warm": (warm_b, warm_o), "figures": figures}


def json_get(port: int, path: str) -> dict:
    import json

    return json.loads(get("127.0.1.1", port, path)[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=int, default=10_000)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--per-host", type=int, default=2)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--fraction", type=float, default=0.05, help="share changed per cycle")
    ap.add_argument("--smoke", action="store_true", help="100 sources, one round")
    args = ap.parse_args()
    if args.smoke:
        args.sources, args.hosts, args.rounds = 100, 10, 1
    print(machine())
    print(f"poll cycle: {args.sources} sources on {args.hosts} hosts, {args.fraction:.0%} changed,"
          f" per_host {args.per_host}, concurrency {args.concurrency}, {args.rounds} round(s)",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="aggregator-bench-poll-") as tmp:
        # the daemon logs one INFO line per poll; do the same (to a file) so the cost is real
        logging.basicConfig(level=logging.INFO, filename=str(Path(tmp) / "poll.log"),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        result = asyncio.run(bench(args.sources, args.hosts, args.rounds, args.concurrency,
                                   args.per_host, args.fraction, Path(tmp)))
    print()
    print(f"{'scenario':>11} {'client':16} {'wall s':>8} {'cpu s':>8} {'req/s':>8} "
          f"{'x bare wall':>11} {'x bare cpu':>10} {'cpu ms/source':>13}")
    for scenario, med in result["figures"].items():
        base = med["bare"]
        for name, c in med.items():
            print(f"{scenario:>11} {name:16} {c.wall:8.2f} {c.cpu:8.2f} "
                  f"{args.sources / c.wall:8.0f} {c.wall / base.wall:11.2f} "
                  f"{c.cpu / max(base.cpu, 1e-9):10.2f} {c.cpu * 1000 / args.sources:13.3f}")
    ok = all(med["ours"].wall <= 2 * med["bare"].wall for key, med in result["figures"].items()
             if not key.endswith(" 0%"))
    print(f"target (ours within 2x of bare wall time): {'met' if ok else 'NOT met'}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
