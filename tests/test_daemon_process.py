"""The daemon as a user runs it: a real process, real signals, kill -9, restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path

import aiohttp
import feedparser
import pytest

from .conftest import standard_sources, write_sources

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_daemon(tmp_path: Path, feeds: str, port: int, log_name="daemon.log", *extra):
    env = {
        **os.environ,
        "AGGREGATOR_DB": str(tmp_path / "agg.db"),
        "AGGREGATOR_FEEDS": feeds,
        "AGGREGATOR_PORT": str(port),
        "AGGREGATOR_SHUTDOWN_GRACE": "3",
        "AGGREGATOR_CONFIG": "",
    }
    log = open(tmp_path / log_name, "ab")  # noqa: SIM115 - closed with the process
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aggregator.cli",
        "run",
        *extra,
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=log,
    )
    proc._log = log  # type: ignore[attr-defined]
    return proc


async def wait_for(predicate, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await predicate():
                return True
        except (aiohttp.ClientError, OSError, sqlite3.Error):
            pass
        await asyncio.sleep(interval)
    return False


def articles(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT uid, title, source_id FROM articles ORDER BY uid").fetchall()
    finally:
        conn.close()


async def stop(proc, sig=signal.SIGTERM, timeout=20.0) -> int:
    if proc.returncode is None:
        proc.send_signal(sig)
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    finally:
        proc._log.close()


async def test_bundled_default_config_publishes_within_30s(tmp_path):
    """The README's first command, minus the install: run on the bundled offline config."""
    port = free_port()
    env = {
        **os.environ,
        "AGGREGATOR_DB": str(tmp_path / "agg.db"),
        "AGGREGATOR_PORT": str(port),
        "AGGREGATOR_CONFIG": "",
    }
    log = open(tmp_path / "log", "wb")  # noqa: SIM115
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aggregator.cli", "run", cwd=REPO, env=env, stdout=log, stderr=log
    )
    proc._log = log
    started = time.monotonic()
    try:
        bodies = {}

        async def published():
            async with aiohttp.ClientSession() as s:
                for fmt in ("atom", "rss", "json"):
                    async with s.get(f"http://127.0.0.1:{port}/feeds/all.{fmt}") as r:
                        bodies[fmt] = await r.read()
                        if r.status != 200:
                            return False
                        if fmt == "json":
                            entries = json.loads(bodies[fmt])["items"]
                        else:
                            entries = feedparser.parse(bodies[fmt]).entries
                        if not entries:
                            return False
            return True

        assert await wait_for(published, timeout=30), (tmp_path / "log").read_text()
        assert time.monotonic() - started < 30
    finally:
        assert await stop(proc) == 0
    text = (tmp_path / "log").read_text()
    assert f"http://127.0.0.1:{port}/" in text  # says where it listens
    assert str(tmp_path / "agg.db") in text  # and where the database is
    assert "stopped" in text


async def test_sigterm_stops_cleanly_and_restart_resumes(tmp_path, feed_server):
    feeds = write_sources(tmp_path / "feeds" / "t.toml", standard_sources(feed_server.url))
    port = free_port()
    proc = await start_daemon(tmp_path, str(feeds.parent), port)
    db = tmp_path / "agg.db"

    async def all_polled():
        return len(articles(db)) == 7

    try:
        assert await wait_for(all_polled), (tmp_path / "daemon.log").read_text()
    finally:
        assert await stop(proc) == 0
    before = articles(db)
    proc = await start_daemon(tmp_path, str(feeds.parent), port)
    try:

        async def serving():
            async with (
                aiohttp.ClientSession() as s,
                s.get(f"http://127.0.0.1:{port}/feeds/all.atom") as r,
            ):
                return r.status == 200

        assert await wait_for(serving)
    finally:
        assert await stop(proc) == 0
    assert articles(db) == before  # nothing lost, nothing duplicated


async def test_kill_9_mid_poll_loses_nothing_committed(tmp_path, feed_server):
    feeds = write_sources(tmp_path / "feeds" / "t.toml", standard_sources(feed_server.url))
    port = free_port()
    db = tmp_path / "agg.db"
    # the Atom source answers slowly, so a poll is in flight when the process is killed
    feed_server.delays["/wj.atom"] = 30
    proc = await start_daemon(tmp_path, str(feeds.parent), port)

    async def others_done():
        return len(articles(db)) == 5 and feed_server.hits("/wj.atom")

    try:
        assert await wait_for(others_done), (tmp_path / "daemon.log").read_text()
    finally:
        proc.kill()
        await stop(proc, signal.SIGKILL)
    committed = articles(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    del feed_server.delays["/wj.atom"]
    proc = await start_daemon(tmp_path, str(feeds.parent), port, "restart.log")
    try:

        async def all_polled():
            return len(articles(db)) == 7

        assert await wait_for(all_polled), (tmp_path / "restart.log").read_text()
    finally:
        assert await stop(proc) == 0
    after = articles(db)
    assert set(committed) <= set(after)
    assert len({a[0] for a in after}) == len(after) == 7


async def test_sighup_reloads_sources(tmp_path, feed_server):
    sources = standard_sources(feed_server.url)
    feeds = write_sources(tmp_path / "feeds" / "t.toml", sources[:1])
    port = free_port()
    db = tmp_path / "agg.db"
    proc = await start_daemon(tmp_path, str(feeds.parent), port)
    try:

        async def first():
            return len(articles(db)) == 3

        assert await wait_for(first), (tmp_path / "daemon.log").read_text()
        write_sources(feeds, sources[:2])
        proc.send_signal(signal.SIGHUP)

        async def second():
            return len(articles(db)) == 5

        assert await wait_for(second), (tmp_path / "daemon.log").read_text()
    finally:
        assert await stop(proc) == 0
    assert "reloaded 2 sources" in (tmp_path / "daemon.log").read_text()


@pytest.mark.parametrize("command", [["run"], ["sources", "check"], ["poll", "--once"]])
def test_bad_config_says_what_to_fix(tmp_path, command):
    import subprocess

    bad = tmp_path / "feeds"
    bad.mkdir()
    (bad / "x.toml").write_text(
        '[[source]]\nid = "x"\nname = "X"\nurl = "http://x/"\ninterval = "soon"\n', encoding="utf-8"
    )
    env = {
        **os.environ,
        "AGGREGATOR_DB": str(tmp_path / "a.db"),
        "AGGREGATOR_FEEDS": str(bad),
        "AGGREGATOR_CONFIG": "",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "aggregator.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode != 0
    assert "x.toml" in proc.stderr and "'x'" in proc.stderr and "interval" in proc.stderr


async def test_sigterm_mid_poll_cancels_within_the_grace(tmp_path, feed_server):
    feeds = write_sources(tmp_path / "feeds" / "t.toml", standard_sources(feed_server.url))
    feed_server.delays["/wj.atom"] = 60
    port = free_port()
    db = tmp_path / "agg.db"
    proc = await start_daemon(tmp_path, str(feeds.parent), port)

    async def in_flight():
        return len(articles(db)) == 5 and feed_server.hits("/wj.atom")

    try:
        assert await wait_for(in_flight), (tmp_path / "daemon.log").read_text()
    finally:
        began = time.monotonic()
        code = await stop(proc)
    assert code == 0
    assert time.monotonic() - began < 15  # grace is 3 s; the 60 s poll did not hold it up
    log = (tmp_path / "daemon.log").read_text()
    assert "1 cancelled" in log
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_poll_once_polls_due_sources_and_all_polls_every_one(tmp_path, feed_server):
    feeds = write_sources(tmp_path / "feeds" / "t.toml", standard_sources(feed_server.url))
    env = {**os.environ, "AGGREGATOR_DB": str(tmp_path / "agg.db"),
           "AGGREGATOR_FEEDS": str(feeds.parent), "AGGREGATOR_CONFIG": ""}

    async def poll(*args) -> tuple[list[dict], str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aggregator.cli", "poll", "--once", "--json", *args,
            env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err
        return [json.loads(line) for line in out.decode().splitlines()], err.decode()

    first, err = await poll()
    assert sorted(r["source_id"] for r in first) == ["changzhou", "chongchuan", "nantong", "wujin"]
    assert sum(r["new"] for r in first) == 7
    assert "polling" in err  # the progress bar is on stderr, never on stdout
    due, _ = await poll()
    assert due == []  # nothing is due again before its interval
    every, _ = await poll("--all")
    assert [r["outcome"] for r in every] == ["not-modified"] * 4
