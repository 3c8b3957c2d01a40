"""Polite polling against the fault server, measured by its counters: requests inside a
Retry-After window (0), conditional requests to unchanged sources (>= 95 %), requests after a
410 (0); redirects, per-host limits, backoff and the state users see."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from aggregator.cli import main
from aggregator.daemon import _schedule_state
from aggregator.fetch import Fetcher
from aggregator.model import SourceDef
from aggregator.pipeline import Poller
from aggregator.scheduler import Schedule
from aggregator.sources import load_sources
from aggregator.store import iso, sync_sources
from aggregator.writer import Writer

from . import faultserver as fs
from .conftest import write_sources


def fetcher(**kw) -> Fetcher:
    settings = dict(timeout=3.0, connect_timeout=1.0, max_bytes=2_000_000, per_host=2,
                    concurrency=64)
    settings.update(kw)
    return Fetcher(**settings)


@pytest.fixture
async def rig(tmp_path):
    made = []

    async def make(defs, **kw):
        writer = Writer(tmp_path / "agg.db")
        await writer.write(sync_sources, defs)
        f = fetcher(**kw)
        await f.__aenter__()
        made.append((writer, f))
        return Poller(writer, f, concurrency=32)

    yield make
    for writer, f in made:
        await f.__aexit__(None, None, None)
        writer.close()


@pytest.fixture
async def hosts():
    async with fs.fault_server() as a, fs.fault_server() as b:
        yield a, b


def row(db, source_id: str) -> dict:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        found = conn.execute("SELECT * FROM v_source_health h JOIN sources s USING (id)"
                             " WHERE id = ?", [source_id]).fetchone()
        return dict(found) if found else {}
    finally:
        conn.close()


def query(db, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def feed(prefix: str, n: int = 3, **kw) -> bytes:
    return fs.rss(prefix, fs.news_items(prefix, n), **kw)


async def poll_for(poller: Poller, defs, seconds: float, every: float = 0.1) -> int:
    """Poll every source again and again for `seconds` (bounded: at most 100 rounds)."""
    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline and rounds < 100:
        await asyncio.gather(*(poller.poll(d) for d in defs))
        rounds += 1
        await asyncio.sleep(every)
    return rounds


# -- Retry-After -------------------------------------------------------------------------------


async def test_retry_after_holds_the_whole_host_and_only_that_host(hosts, rig, tmp_path):
    a, b = hosts
    for name in ("a1", "a2", "a3", "article"):
        a.set(f"/{name}.xml", feed(name))
    b.set("/b1.xml", feed("b1"))
    # a source on B whose article links point at host A: content links obey the hold too
    b.set("/links.xml", fs.rss("links", [{"guid": "l1", "title": "链接", "html": "<p>短</p>",
                                           "link": f"{a.url}/article.xml"}]))
    a.queue("/a1.xml", fs.retry_after(429, 2))
    defs = [SourceDef(n, n, f"{a.url}/{n}.xml", interval=600) for n in ("a1", "a2", "a3")]
    defs += [SourceDef("b1", "b1", f"{b.url}/b1.xml", interval=600),
             SourceDef("links", "links", f"{b.url}/links.xml", full_text=True,
                       allow_private=True, interval=600)]
    poller = await rig(defs)
    first = await poller.poll(defs[0])
    assert first.outcome == "error" and first.status == 429
    window_end = a.windows[-1][1]
    await poll_for(poller, defs, 3.2)

    assert a.in_retry_window == 0  # the politeness counter
    assert any(h.at >= window_end for h in a.hits), "polling resumed after the window"
    during = [h for h in b.hits if h.at < window_end]
    assert len(during) >= 4  # the other host was polled all along
    assert not [h for h in a.hits if h.path == "/article.xml" and h.at < window_end]
    db = tmp_path / "agg.db"
    deferred = query(db, "SELECT source_id, error FROM fetches WHERE outcome = 'deferred'")
    assert {sid for sid, _ in deferred} >= {"a1", "a2", "a3"}
    assert all("Retry-After" in e and a.host in e for _, e in deferred)
    assert row(db, "a2")["error_count"] == 0  # not the source's fault
    assert "429" in query(db, "SELECT error FROM fetches WHERE source_id = 'a1' AND"
                              " outcome = 'error'")[0][0]


async def test_retry_after_http_date_and_503(hosts, rig):
    a, _ = hosts
    a.set("/d.xml", feed("d"))
    a.set("/e.xml", feed("e"))
    a.queue("/d.xml", fs.retry_after(503, 1, as_date=True))
    defs = [SourceDef("d", "d", f"{a.url}/d.xml"), SourceDef("e", "e", f"{a.url}/e.xml")]
    poller = await rig(defs)
    assert (await poller.poll(defs[0])).status == 503
    window_end = a.windows[-1][1]
    await poll_for(poller, defs, window_end - time.monotonic() + 2.2)
    assert a.in_retry_window == 0
    assert any(h.at >= window_end for h in a.hits)


async def test_a_restart_keeps_the_hold_and_the_schedule_waits_for_it(hosts, rig, tmp_path):
    a, _ = hosts
    a.set("/r1.xml", feed("r1"))
    a.set("/r2.xml", feed("r2"))
    a.queue("/r1.xml", fs.retry_after(429, 120))
    defs = [SourceDef("r1", "r1", f"{a.url}/r1.xml", interval=600),
            SourceDef("r2", "r2", f"{a.url}/r2.xml", interval=600)]
    poller = await rig(defs)
    result = await poller.poll(defs[0])
    schedule = Schedule(poller, jitter=0)
    when = await schedule._reschedule(defs[0], result)
    assert when >= datetime.now(UTC) + timedelta(seconds=115)
    # a new process: a new fetcher knows nothing, the database remembers
    again = await rig(defs)
    deferred = await again.poll(defs[1])
    assert deferred.outcome == "deferred"
    assert len(a.hits) == 1 and a.in_retry_window == 0
    when = await Schedule(again, jitter=0)._reschedule(defs[1], deferred)
    assert when >= datetime.now(UTC) + timedelta(seconds=115)
    state = row(tmp_path / "agg.db", "r2")["poll_state"]
    assert state.startswith("waiting until") and "Retry-After" in state


# -- 410 Gone ----------------------------------------------------------------------------------


async def test_gone_disables_the_source_and_nothing_is_sent_again(hosts, tmp_path):
    a, _ = hosts
    a.forever("/gone.xml", fs.gone())
    a.set("/live.xml", feed("live"))
    feeds = write_sources(tmp_path / "feeds" / "t.toml", [
        {"id": "gone", "name": "没了", "url": f"{a.url}/gone.xml", "interval": "10m"},
        {"id": "live", "name": "还在", "url": f"{a.url}/live.xml", "interval": "10m"},
    ])
    defs = load_sources([feeds])
    writer = Writer(tmp_path / "agg.db")
    await writer.write(sync_sources, defs)
    async with fetcher() as f:
        poller = Poller(writer, f)
        schedule = Schedule(poller, jitter=0)
        schedule.start(defs, {})  # both due now
        try:
            for _ in range(100):  # bounded: at most 10 s
                if schedule._scheduler.get_job("gone") is None and a.paths("/live.xml"):
                    break
                await asyncio.sleep(0.1)
            assert schedule._scheduler.get_job("gone") is None  # the scheduler dropped it
            assert schedule._scheduler.get_job("live") is not None
        finally:
            await schedule.stop(2)
        assert len(a.paths("/gone.xml")) == 1
        for _ in range(3):  # asked directly, it still sends nothing
            assert (await poller.poll(defs[0])).outcome == "disabled"
        # a restart: the daemon's schedule leaves it out from the start
        await writer.write(sync_sources, defs)
        restarted = Schedule(poller, jitter=0)
        restarted.start(defs, *await _schedule_state(writer))
        try:
            assert restarted._scheduler.get_job("gone") is None
            assert restarted._scheduler.get_job("live") is not None
        finally:
            await restarted.stop(2)
    writer.close()
    db = tmp_path / "agg.db"
    state = row(db, "gone")
    assert state["enabled"] == 0 and "410" in state["disabled_reason"]
    assert state["next_poll"] is None and state["poll_state"].startswith("disabled: gone (410)")

    env = {"AGGREGATOR_DB": str(db), "AGGREGATOR_FEEDS": str(feeds.parent),
           "AGGREGATOR_CONFIG": ""}
    out = await asyncio.to_thread(CliRunner().invoke, main,
                                  ["poll", "--once", "--all", "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert a.after_gone == 0  # the politeness counter: nothing after the 410
    listed = CliRunner().invoke(main, ["sources", "list"], env=env)
    assert "disabled: gone (410)" in listed.output
    data = [json.loads(line) for line in CliRunner().invoke(
        main, ["sources", "list", "--json"], env=env).output.splitlines()]
    gone = next(d for d in data if d["id"] == "gone")
    assert gone["enabled"] == 0 and gone["state"].startswith("disabled")
    # editing its URL gives it a fresh start
    write_sources(feeds, [{"id": "gone", "name": "没了", "url": f"{a.url}/live.xml"}])
    CliRunner().invoke(main, ["sources", "list"], env=env)
    again = row(db, "gone")
    assert again["enabled"] == 1 and again["disabled_reason"] is None


# -- conditional GET ---------------------------------------------------------------------------


async def test_unchanged_sources_are_asked_conditionally(hosts, rig, tmp_path, capsys):
    a, b = hosts
    defs = []
    for i in range(8):
        a.set(f"/etag{i}.xml", feed(f"et{i}"))
        defs.append(SourceDef(f"etag{i}", f"etag{i}", f"{a.url}/etag{i}.xml"))
    for i in range(2):
        b.forever(f"/lm{i}.xml", fs.last_modified_only(feed(f"lm{i}")))
        defs.append(SourceDef(f"lm{i}", f"lm{i}", f"{b.url}/lm{i}.xml"))
    for i in range(2):
        b.forever(f"/rot{i}.xml", fs.rotating_etag(feed(f"rot{i}")))
        defs.append(SourceDef(f"rot{i}", f"rot{i}", f"{b.url}/rot{i}.xml"))
    poller = await rig(defs, per_host=4)
    polls = 15
    outcomes: list[str] = []
    for _ in range(polls):
        outcomes += [r.outcome for r in await asyncio.gather(*(poller.poll(d) for d in defs))]
    share = (a.conditional_share([f"/etag{i}.xml" for i in range(8)])
             * 8 + b.conditional_share([f"/lm{i}.xml" for i in range(2)] +
                                       [f"/rot{i}.xml" for i in range(2)]) * 4) / 12
    with capsys.disabled():
        print(f"\nconditional requests to unchanged sources: {share:.1%} "
              f"({len(defs) * (polls - 1)} requests after the first per source)")
    assert share >= 0.95
    assert outcomes.count("ok") == len(defs)  # only the first poll of each stored anything
    assert set(outcomes) == {"ok", "not-modified", "unchanged"}
    db = tmp_path / "agg.db"
    assert query(db, "SELECT count(*) FROM articles")[0][0] == 3 * len(defs)


# -- redirects ---------------------------------------------------------------------------------


async def test_permanent_redirects_move_the_url_after_three_polls(hosts, rig, tmp_path, caplog):
    a, _ = hosts
    for code in (301, 308, 302, 307):
        a.set(f"/new{code}.xml", feed(f"n{code}"))
        a.forever(f"/old{code}.xml", fs.redirect(code, f"/new{code}.xml"))
    defs = {code: SourceDef(f"s{code}", f"s{code}", f"{a.url}/old{code}.xml")
            for code in (301, 308, 302, 307)}
    poller = await rig(list(defs.values()))
    db = tmp_path / "agg.db"
    for n in range(1, 6):
        for d in defs.values():
            assert (await poller.poll(d)).outcome in ("ok", "not-modified")
        if n < 3:
            assert row(db, "s301")["redirect_count"] == n
            assert row(db, "s301")["url"] == defs[301].url
    for code in (301, 308):
        r = row(db, f"s{code}")
        assert r["url"] == f"{a.url}/new{code}.xml" and r["defined_url"] != r["url"]
        assert len(a.paths(f"/old{code}.xml")) == 3  # polls 4 and 5 went to the new URL
    for code in (302, 307):
        r = row(db, f"s{code}")
        assert r["url"] == f"{a.url}/old{code}.xml" and r["redirect_target"] is None
        assert len(a.paths(f"/old{code}.xml")) == 5
    assert any("moved permanently" in m for m in caplog.messages)


async def test_redirect_evidence_must_be_consecutive_and_the_toml_wins(hosts, rig, tmp_path):
    a, _ = hosts
    a.set("/feed.xml", feed("f"))
    a.set("/next.xml", feed("f"))
    for _ in range(2):
        a.queue("/feed.xml", fs.redirect(301, "/next.xml"))
    src = SourceDef("s", "s", f"{a.url}/feed.xml")
    poller = await rig([src])
    db = tmp_path / "agg.db"
    for _ in range(2):
        await poller.poll(src)
    assert row(db, "s")["redirect_count"] == 2
    await poller.poll(src)  # served directly this time: the evidence resets
    assert row(db, "s")["redirect_count"] == 0 and row(db, "s")["url"] == src.url
    for _ in range(3):
        a.queue("/feed.xml", fs.redirect(301, "/next.xml"))
    for _ in range(3):
        await poller.poll(src)
    assert row(db, "s")["url"] == f"{a.url}/next.xml"
    # a restart re-reads the TOML: the moved URL is kept while the definition is unchanged
    w = Writer(db)
    await w.write(sync_sources, [src])
    assert row(db, "s")["url"] == f"{a.url}/next.xml"
    # an edited definition wins
    await w.write(sync_sources, [SourceDef("s", "s", f"{a.url}/other.xml")])
    w.close()
    r = row(db, "s")
    assert r["url"] == r["defined_url"] == f"{a.url}/other.xml" and r["etag"] is None


# -- limits and backoff ------------------------------------------------------------------------


async def test_per_host_concurrency_is_limited_per_host(hosts, rig):
    a, b = hosts
    defs = []
    for host, name in ((a, "a"), (b, "b")):
        for i in range(6):
            host.forever(f"/{name}{i}.xml", fs.slow(0.3, feed(f"{name}{i}")))
            defs.append(SourceDef(f"{name}{i}", f"{name}{i}", f"{host.url}/{name}{i}.xml"))
    poller = await rig(defs, per_host=2)
    results = await asyncio.wait_for(asyncio.gather(*(poller.poll(d) for d in defs)), 20)
    assert all(r.outcome == "ok" for r in results)
    assert a.max_inflight == 2 and b.max_inflight == 2  # one host never waits for another


async def test_errors_back_off_and_the_state_is_visible(hosts, rig, tmp_path):
    a, _ = hosts
    feeds = write_sources(tmp_path / "feeds" / "t.toml", [
        {"id": "flaky", "name": "时好时坏", "url": f"{a.url}/flaky.xml", "interval": "10m"}])
    [src] = load_sources([feeds])
    poller = await rig([src])
    schedule = Schedule(poller, jitter=0)
    db = tmp_path / "agg.db"
    delays = []
    for n in range(1, 6):
        result = await poller.poll(src)  # 404: backs off like any error, never disabled
        assert result.outcome == "error" and "404" in result.error
        before = datetime.now(UTC)
        when = await schedule._reschedule(src, result)
        delays.append(round((when - before).total_seconds() / 600))
        r = row(db, "flaky")
        assert r["error_count"] == n and r["enabled"] == 1
        assert r["poll_state"].startswith("backing off until")
    assert delays == [1, 2, 4, 8, 16]
    env = {"AGGREGATOR_DB": str(db), "AGGREGATOR_FEEDS": str(feeds.parent),
           "AGGREGATOR_CONFIG": ""}
    listed = CliRunner().invoke(main, ["sources", "list", "--json"], env=env)
    data = json.loads(listed.output.splitlines()[0])
    assert data["state"].startswith("backing off until") and data["error_count"] == 5
    assert "404" in data["last_error"]
    a.set("/flaky.xml", feed("flaky"))  # the site recovers: the probe finds it
    result = await poller.poll(src)
    when = await schedule._reschedule(src, result)
    r = row(db, "flaky")
    assert (r["error_count"], r["poll_state"], r["last_error"]) == (0, "ok", None)
    assert abs((when - datetime.now(UTC)).total_seconds() - 600) < 5


async def test_freshness_hints_and_publishing_rate_reach_the_schedule(hosts, rig, tmp_path):
    a, _ = hosts
    a.forever("/cc.xml", fs.with_headers(feed("cc"), {"Cache-Control": "max-age=1800"}))
    a.set("/ttl.xml", feed("ttl", ttl=60))
    a.set("/quiet.xml", feed("quiet"))
    defs = [SourceDef("cc", "cc", f"{a.url}/cc.xml", interval=600),
            SourceDef("ttl", "ttl", f"{a.url}/ttl.xml", interval=600),
            SourceDef("quiet", "quiet", f"{a.url}/quiet.xml", interval=600)]
    poller = await rig(defs)
    schedule = Schedule(poller, jitter=0)
    db = tmp_path / "agg.db"
    # the quiet source's history: polls ten minutes apart for an hour, nothing new; its
    # validator is known, so this poll is a 304 as well
    start = datetime.now(UTC) - timedelta(minutes=60)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE sources SET etag = ? WHERE id = 'quiet'",
                 ['"' + hashlib.md5(a.docs["/quiet.xml"][0]).hexdigest() + '"'])
    conn.executemany(
        "INSERT INTO fetches (source_id, url, started, status, outcome, new)"
        " VALUES ('quiet', '', ?, 304, 'not-modified', 0)",
        [(iso(start + timedelta(minutes=10 * i)),) for i in range(6)])
    conn.commit()
    conn.close()
    expected = {"cc": 1800, "ttl": 2400, "quiet": 2400}  # max-age; ttl and silence: 4x
    for d in defs:
        result = await poller.poll(d)
        now = datetime.now(UTC)
        when = await schedule._reschedule(d, result)
        assert abs((when - now).total_seconds() - expected[d.id]) < 5, d.id
    assert row(db, "cc")["max_age"] == 1800 and row(db, "ttl")["ttl"] == 60
    assert row(db, "quiet")["publish_rate"] == 0
