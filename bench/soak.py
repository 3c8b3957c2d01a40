"""Soak: does `aggregator run` hold its memory over a long run of ever-changing feeds?

A loopback feed server (bench/feedserver.py, "grow" mode) gives every poll of every feed a
new item; `aggregator run` (a real process, its own temp DB and feeds/*.toml) polls ~200 such
sources at the shortest interval the product allows (60 s), while this script reads the
daemon's RSS from /proc/PID/status every `--sample` seconds and asks its feeds, index and
/metrics like a few readers would. The trend is a least-squares line through the samples
(MB/hour, over the whole run and over its second half, after start-up has filled caches),
with first, last and peak (VmHWM).

There is no baseline process to compare a soak against; the figure that matters is the
slope, and the second-half slope should be near zero for a daemon that does not leak.

    python bench/soak.py                 # 30 minutes, 200 sources
    python bench/soak.py --minutes 2     # a quick check
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import feedserver
from loadutil import (
    aggregator_cmd,
    cpu_seconds,
    exit_on_sigterm,
    free_port,
    get,
    linear_fit,
    machine,
    process,
    status,
    wait_http,
    write_config,
)

READER_PATHS = ("/", "/feeds/all.atom", "/feeds/region/320412.atom", "/feeds/region/320600.rss",
                "/feeds/topic/work-safety.json", "/feeds/source/soak-0001.atom", "/opml",
                "/metrics")


def write_sources(path: Path, n: int, hosts: int, port: int, interval: int) -> None:
    lines = []
    for i in range(n):
        lines += ["[[source]]", f'id = "soak-{i:04d}"', f'name = "负载测试源 {i}"',
                  f'url = "{feedserver.feed_url(i, hosts, port)}"', 'kind = "feed"',
                  'region = "320412"' if i % 2 else 'region = "320600"',
                  f"interval = {interval}", "allow_private = true", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def db_counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {"articles": one("SELECT count(*) FROM articles"),
                "stories": one("SELECT count(*) FROM stories"),
                "fetches": one("SELECT count(*) FROM fetches"),
                "errors": one("SELECT count(*) FROM fetches WHERE outcome = 'error'")}
    finally:
        conn.close()


def db_mb(db: Path) -> float:
    """The database's size on disk (main file and WAL), in MiB."""
    wal = db.with_name(db.name + "-wal")
    return sum(p.stat().st_size for p in (db, wal) if p.exists()) / 2**20


def read_everything(port: int) -> tuple[int, float]:
    """GET each reader path once; returns (non-2xx/304 answers, slowest seconds)."""
    bad, slowest = 0, 0.0
    for path in READER_PATHS:
        t = time.monotonic()
        try:
            code = get("127.0.0.1", port, path, timeout=30)[0]
        except OSError:
            code = 0
        slowest = max(slowest, time.monotonic() - t)
        bad += code not in (200, 304, 404)  # a region with no article yet is a fair 404
    return bad, slowest


def run(minutes: float, sources: int, hosts: int, interval: int, sample: float,
        workdir: Path) -> dict:
    feeds_dir = workdir / "feeds"
    feeds_dir.mkdir()
    db = workdir / "soak.db"
    port = free_port()
    samples: list[dict] = []
    with feedserver.running(sources, hosts, "grow") as (_server, fport):
        write_sources(feeds_dir / "soak.toml", sources, hosts, fport, interval)
        cfg = write_config(workdir / "aggregator.toml", db=str(db), feeds=str(feeds_dir),
                           host="127.0.0.1", port=port, log_level="INFO")
        with process([*aggregator_cmd(), "run", "--config", str(cfg)],
                     log=workdir / "daemon.log", cwd=workdir) as daemon:
            wait_http("127.0.0.1", port, "/healthz", daemon)
            start = time.monotonic()
            end = start + minutes * 60
            interrupted = False
            next_at = start
            while True:
                now = time.monotonic()
                if now < next_at:
                    time.sleep(min(next_at - now, max(end - now, 0) + 0.01))
                    continue
                if daemon.poll() is not None:
                    # something stopped it (a signal from outside, a crash): report what
                    # was measured, marked, rather than nothing
                    print(f"  daemon exited with {daemon.returncode} after "
                          f"{time.monotonic() - start:.0f}s; summarising what was measured",
                          flush=True)
                    interrupted = True
                    break
                bad, slowest = read_everything(port)
                st = status(daemon.pid)
                row = {"t": round(time.monotonic() - start, 1), "rss_mb": st["VmRSS"] / 1024,
                       "hwm_mb": st["VmHWM"] / 1024, "threads": st["Threads"],
                       "cpu_s": round(cpu_seconds(daemon.pid), 1), "bad_answers": bad,
                       "slowest_read_s": round(slowest, 3), "db_mb": round(db_mb(db), 1),
                       **db_counts(db)}
                samples.append(row)
                print(f"  t={row['t']:7.0f}s rss={row['rss_mb']:7.1f} MB "
                      f"hwm={row['hwm_mb']:7.1f} MB db={row['db_mb']:6.1f} MB threads={row['threads']:3d} "
                      f"cpu={row['cpu_s']:7.1f}s articles={row['articles']:6d} "
                      f"fetches={row['fetches']:6d} errors={row['errors']} "
                      f"slowest read={row['slowest_read_s']:.3f}s", flush=True)
                if time.monotonic() >= end:
                    break
                next_at += sample
    result = summarise(samples, minutes, sources, interval)
    result["interrupted"] = interrupted
    return result


def summarise(samples: list[dict], minutes: float, sources: int, interval: int) -> dict:
    hours = [s["t"] / 3600 for s in samples]
    rss = [s["rss_mb"] for s in samples]
    slope, _ = linear_fit(hours, rss)
    half = len(samples) // 2
    slope2, _ = linear_fit(hours[half:], rss[half:])
    first, last = samples[0], samples[-1]
    span_h = max(last["t"] - first["t"], 1e-9) / 3600
    return {
        "minutes": minutes, "sources": sources, "interval_s": interval,
        "samples": len(samples),
        "rss_first_mb": round(first["rss_mb"], 1), "rss_last_mb": round(last["rss_mb"], 1),
        "rss_max_mb": round(max(rss), 1), "hwm_mb": round(last["hwm_mb"], 1),
        "db_first_mb": first["db_mb"], "db_last_mb": last["db_mb"],
        "slope_mb_per_hour": round(slope, 2),
        "slope_second_half_mb_per_hour": round(slope2, 2),
        "articles": last["articles"], "stories": last["stories"], "fetches": last["fetches"],
        "fetch_errors": last["errors"],
        "polls_per_minute": round((last["fetches"] - first["fetches"]) / span_h / 60, 1),
        "bad_answers": sum(s["bad_answers"] for s in samples),
        "slowest_read_s": max(s["slowest_read_s"] for s in samples),
        "daemon_cpu_s": last["cpu_s"],
        "series": samples,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--sources", type=int, default=200)
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--interval", type=int, default=60, help="seconds; the product's minimum is 60")
    ap.add_argument("--sample", type=float, default=30.0, help="seconds between RSS samples")
    ap.add_argument("--out", type=Path, help="write the figures (and series) as JSON here")
    ap.add_argument("--keep-log", type=Path, help="copy the daemon's log here at the end")
    ap.add_argument("--smoke", action="store_true",
                    help="a few seconds with 20 sources: proves the benchmark still works")
    args = ap.parse_args()
    if args.smoke:
        args.minutes, args.sources, args.hosts, args.sample = 0.12, 20, 4, 3.0
    exit_on_sigterm()
    print(machine())
    print(f"soak: {args.sources} sources on {args.hosts} hosts, interval {args.interval}s, "
          f"{args.minutes:g} min, RSS every {args.sample:g}s", flush=True)
    with tempfile.TemporaryDirectory(prefix="aggregator-soak-") as tmp:
        try:
            result = run(args.minutes, args.sources, args.hosts, args.interval, args.sample,
                         Path(tmp))
        except Exception:
            log = Path(tmp) / "daemon.log"
            if log.exists():
                print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            if args.keep_log and (Path(tmp) / "daemon.log").exists():
                shutil.copyfile(Path(tmp) / "daemon.log", args.keep_log)
    summary = {k: v for k, v in result.items() if k != "series"}
    if result["interrupted"]:
        print("NOTE: the daemon stopped before the end; these figures cover only part of the run")
    print("soak result:", json.dumps(summary, ensure_ascii=False))
    print(f"RSS first {result['rss_first_mb']} MB, last {result['rss_last_mb']} MB, "
          f"peak {result['hwm_mb']} MB; slope {result['slope_mb_per_hour']} MB/h "
          f"(second half {result['slope_second_half_mb_per_hour']} MB/h); "
          f"database {result['db_first_mb']} -> {result['db_last_mb']} MB; "
          f"{result['articles']} articles, {result['fetches']} fetches, "
          f"{result['fetch_errors']} errors, {result['polls_per_minute']} polls/min")
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
