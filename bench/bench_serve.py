"""Serving under load: wrk against `aggregator serve` beside nginx serving the same bytes.

A database of a few thousand articles is built through the real pipeline (`aggregator
import` of synthetic local news, most of it about 武进区), then `aggregator serve` runs on
it as a process of its own. Debian's wrk asks for /feeds/region/320412.atom over 64
connections for ~10 s and reports requests/s and latency percentiles (--latency). The
baseline in the same run: nginx (a minimal nginx.conf in a temp dir, 127.0.0.1 only, run as
the current user) serving the very same bytes as a static file, once with one worker
process (like ours: one process) and once with one per core.

Also measured: conditional requests (If-None-Match with the feed's ETag), which ours
answers 304 from its document cache, against nginx's 200 rate. And, since the product has
no `--workers`, what N processes of the same aiohttp application would give on one port
(SO_REUSEPORT; `--reuseport N`): an estimate of a `--workers` option, not a product
feature.

Targets: ours >= 0.7x nginx's requests/s (one worker), p99 <= 50 ms, our 304 rate >=
nginx's 200 rate.

    python bench/bench_serve.py [--articles 3000] [--duration 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import feedserver
from loadutil import (
    aggregator_cmd,
    clean_env,
    exit_on_sigterm,
    free_port,
    get,
    machine,
    process,
    status,
    wait_http,
    write_config,
)

FEED = "/feeds/region/320412.atom"
OUTLETS = ("wujin-daily", "changzhou-daily", "wujin-gov", "hutang-news", "nantong-daily",
           "chongchuan-news")


def build_db(config: Path, n: int, tmp: Path) -> float:
    """n articles through `aggregator import`; returns the seconds it took."""
    lines = []
    for i in range(n):
        title, html = feedserver.item_text(i % 997, i)
        body = re.sub(r"</p><p>", "\n\n", html).removeprefix("<p>").removesuffix("</p>")
        if i % 4:  # three in four about 武进区, so its feed is full and its queries real
            body = "武进区" + body
        day = 1 + i % 28
        lines.append(json.dumps({
            "id": f"bench-{i}", "outlet": OUTLETS[i % len(OUTLETS)], "title": title,
            "published": f"2026-10-{day:02d}T{8 + i % 12:02d}:00:00+08:00", "url": None,
            "body": body}, ensure_ascii=False))
    src = tmp / "articles.jsonl"
    src.write_text("\n".join(lines), encoding="utf-8")
    t0 = time.perf_counter()
    subprocess.run([*aggregator_cmd(), "import", str(src), "--config", str(config), "--json"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800,
                   env=clean_env())
    return time.perf_counter() - t0


NGINX_CONF = """\
{user}worker_processes {workers};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp-body;
    proxy_temp_path {dir}/tmp-proxy;
    fastcgi_temp_path {dir}/tmp-fastcgi;
    uwsgi_temp_path {dir}/tmp-uwsgi;
    scgi_temp_path {dir}/tmp-scgi;
    types {{ application/atom+xml atom; }}
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} reuseport;
        root {dir}/www;
        etag on;
        gzip_static on;
    }}
}}
"""


def start_nginx(tmp: Path, body: bytes, workers: str,
                gz: bytes) -> tuple[subprocess.Popen, int, Path]:
    """nginx serving `body` at FEED (and `gz`, the very gzip bytes ours sends, as FEED.gz
    for gzip_static), on a free loopback port, in the foreground."""
    ndir = tmp / f"nginx-{workers}"
    www = ndir / "www" / FEED.lstrip("/")
    www.parent.mkdir(parents=True)
    www.write_bytes(body)
    www.with_name(www.name + ".gz").write_bytes(gz)
    for d in (tmp, ndir):
        d.chmod(0o755)  # workers (as this user) must reach the root
    port = free_port()
    # as root, nginx would hand its workers to 'nobody': keep them as the current user
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    conf = ndir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, workers=workers, dir=ndir, port=port))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    log = (ndir / "nginx.out").open("ab")
    proc = subprocess.Popen([nginx, "-p", str(ndir), "-e", str(ndir / "nginx-error.log"),
                             "-c", str(conf)], stdout=log,
                            stderr=subprocess.STDOUT)
    wait_http("127.0.0.1", port, FEED, proc, deadline=20)
    return proc, port, ndir


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)$", text.strip())
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def wrk(port: int, *, connections: int, duration: float, threads: int,
        headers: dict[str, str] | None = None) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency",
           "--timeout", "10s"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(f"http://127.0.0.1:{port}{FEED}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    total = re.search(r"(\d+) requests in", out)
    return {"rps": rps, "p50": lat.get("50"), "p90": lat.get("90"), "p99": lat.get("99"),
            "requests": int(total.group(1)) if total else 0,
            "non2xx3xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(0) if errors else ""}


def polling_run(tmp: Path, cfg: Path, port: int, args: argparse.Namespace) -> dict:
    """wrk against `aggregator run` while it polls `args.polling` sources that answer 304.

    Every poll commits (a fetch record, the source's row) although no feed changes. The
    first round (200s, new articles) is let finish; wrk then runs for 40 s from 55 s after
    the start, across the second round (60 s interval + jitter), which is all 304s."""
    feeds = tmp / "feeds"
    feeds.mkdir(exist_ok=True)
    n = args.polling
    with feedserver.running(n, 20, "bump") as (_server, fport):
        (feeds / "polling.toml").write_text("\n".join(
            f'[[source]]\nid = "poll-{i:04d}"\nname = "轮询源 {i}"\n'
            f'url = "{feedserver.feed_url(i, 20, fport)}"\ninterval = 60\n'
            "allow_private = true\n" for i in range(n)), encoding="utf-8")
        with process([*aggregator_cmd(), "run", "--config", str(cfg)],
                     log=tmp / "run.log") as daemon:
            t0 = time.monotonic()
            wait_http("127.0.0.1", port, "/healthz", daemon)
            get("127.0.0.1", port, FEED)
            time.sleep(max(0.0, 55 - (time.monotonic() - t0)))
            conn = sqlite3.connect(f"file:{tmp / 'serve.db'}?mode=ro", uri=True, timeout=30)
            before = conn.execute("SELECT count(*) FROM fetches").fetchone()[0]
            result = wrk(port, connections=args.connections, duration=40, threads=args.threads,
                         headers={"Accept-Encoding": "gzip"})
            during = conn.execute("SELECT count(*) FROM fetches").fetchone()[0] - before
            conn.close()
    print(f"while polling: {during} polls committed during the 40 s wrk run", flush=True)
    result["polls"] = during
    return result


REUSEPORT_SERVER = """
import asyncio, sys
from aiohttp import web
from aggregator.settings import load_config
from aggregator.web import init_app

async def main():
    config = load_config(sys.argv[1])
    runner = web.AppRunner(init_app(config), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port, reuse_port=True).start()
    await asyncio.Event().wait()

asyncio.run(main())
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=3000)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--reuseport", type=int, default=2,
                    help="also run N processes of the app on one port (0: skip)")
    ap.add_argument("--polling", type=int, default=600,
                    help="also serve from `aggregator run` polling N sources that answer 304 "
                         "(0: skip)")
    ap.add_argument("--smoke", action="store_true", help="200 articles, 1 s runs")
    args = ap.parse_args()
    if args.smoke:
        args.articles, args.duration, args.reuseport, args.polling = 200, 1.0, 0, 0
    exit_on_sigterm()
    for tool in ("wrk", "nginx"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            sys.exit(f"{tool} is not installed: apt-get install -y wrk nginx")
    print(machine())
    print(f"serve: {FEED}, {args.articles} articles, wrk -t{args.threads} "
          f"-c{args.connections} -d{args.duration:g}s", flush=True)
    rows: list[tuple[str, dict]] = []
    with tempfile.TemporaryDirectory(prefix="aggregator-bench-serve-") as tmp_s:
        tmp = Path(tmp_s)
        port = free_port()
        cfg = write_config(tmp / "aggregator.toml", db=str(tmp / "serve.db"),
                           feeds=str(tmp / "feeds"), host="127.0.0.1", port=port,
                           log_level="WARNING")
        took = build_db(cfg, args.articles, tmp)
        print(f"built the database through `aggregator import`: {took:.1f}s", flush=True)
        with process([*aggregator_cmd(), "serve", "--config", str(cfg)],
                     log=tmp / "serve.log") as ours:
            wait_http("127.0.0.1", port, "/healthz", ours)
            code, headers, body = get("127.0.0.1", port, FEED)
            if code != 200:
                sys.exit(f"{FEED} answered {code}")
            etag = headers["etag"]
            again = get("127.0.0.1", port, FEED, {"If-None-Match": etag})[0]
            print(f"feed: {len(body):,} bytes, {body.count(b'<entry>')} entries, ETag {etag}, "
                  f"conditional GET answers {again}", flush=True)
            rss0 = status(ours.pid)["VmRSS"]
            rows.append(("ours 200", wrk(port, connections=args.connections,
                                         duration=args.duration, threads=args.threads)))
            rows.append(("ours 304", wrk(port, connections=args.connections,
                                         duration=args.duration, threads=args.threads,
                                         headers={"If-None-Match": etag})))
            # feed readers ask for gzip: ours sends the gzip form it keeps beside the bytes
            gz = get("127.0.0.1", port, FEED, {"Accept-Encoding": "gzip"})[2]
            rows.append(("ours 200 gzip", wrk(port, connections=args.connections,
                                              duration=args.duration, threads=args.threads,
                                              headers={"Accept-Encoding": "gzip"})))
            st = status(ours.pid)
            print(f"ours RSS before/after load: {rss0 / 1024:.1f} / {st['VmRSS'] / 1024:.1f} MB",
                  flush=True)
        for workers in ("1",) if args.smoke else ("1", "auto"):
            proc, nport, ndir = start_nginx(tmp, body, workers, gz)
            try:
                n_etag = get("127.0.0.1", nport, FEED)[1].get("etag", "")
                rows.append((f"nginx({workers}) 200", wrk(
                    nport, connections=args.connections, duration=args.duration,
                    threads=args.threads)))
                rows.append((f"nginx({workers}) 304", wrk(
                    nport, connections=args.connections, duration=args.duration,
                    threads=args.threads, headers={"If-None-Match": n_etag})))
                rows.append((f"nginx({workers}) 200 gzip_static", wrk(
                    nport, connections=args.connections, duration=args.duration,
                    threads=args.threads, headers={"Accept-Encoding": "gzip"})))
            finally:
                stop(proc)
        if args.polling:
            rows.append((f"ours 200 while polling {args.polling}", polling_run(
                tmp, cfg, port, args)))
        if args.reuseport > 1:
            script = tmp / "reuseport_server.py"
            script.write_text(REUSEPORT_SERVER)
            procs = []
            try:
                for i in range(args.reuseport):
                    procs.append(subprocess.Popen(
                        [sys.executable, str(script), str(cfg)], env=clean_env(),
                        stdout=(tmp / f"rp{i}.log").open("ab"), stderr=subprocess.STDOUT))
                for p in procs:
                    wait_http("127.0.0.1", port, "/healthz", p)
                time.sleep(1)
                label = f"ours x{args.reuseport} procs"
                rows.append((f"{label} 200", wrk(port, connections=args.connections,
                                                  duration=args.duration,
                                                  threads=args.threads)))
                rows.append((f"{label} 304", wrk(port, connections=args.connections,
                                                  duration=args.duration, threads=args.threads,
                                                  headers={"If-None-Match": etag})))
            finally:
                for p in procs:
                    stop(p)
    print()
    base = dict(rows)["nginx(1) 200"]["rps"]
    print(f"{'server':34} {'req/s':>9} {'x nginx(1) 200':>15} {'p50 ms':>7} {'p90 ms':>7} "
          f"{'p99 ms':>7} {'errors':>7}")
    for name, r in rows:
        print(f"{name:34} {r['rps']:9.0f} {r['rps'] / base:15.2f} {r['p50']:7.2f} "
              f"{r['p90']:7.2f} {r['p99']:7.2f} {r['non2xx3xx']:7d} {r['socket_errors']}")
    got = dict(rows)
    print(f"targets: ours 200 >= 0.7x nginx(1) 200: "
          f"{got['ours 200']['rps'] / base:.2f}x; p99 <= 50 ms: {got['ours 200']['p99']:.1f} ms; "
          f"ours 304 >= nginx(1) 200: {got['ours 304']['rps'] / base:.2f}x")
    gz_base = got["nginx(1) 200 gzip_static"]["rps"]
    print(f"with gzip (what feed readers ask for): ours {got['ours 200 gzip']['rps']:.0f} req/s "
          f"= {got['ours 200 gzip']['rps'] / gz_base:.2f}x nginx(1) gzip_static")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
