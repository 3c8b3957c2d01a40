"""Local input through the full pipeline: `aggregator ingest` (files) and `import` (JSONL).

Both accept outlet ids that no source defines yet: such an outlet gets an undefined,
never-polled row in `sources`, so its articles are stored, tagged, merged and published like
any other. `import` keeps each record's own id in `articles.ext_id`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import analyse, store
from .analyse import Analysis, Job
from .dates import parse_date, resolve_mentions
from .decode import decode
from .errors import ConfigError
from .extract import extract_article
from .model import Entry
from .pipeline import apply_entries
from .posts import parse_post
from .settings import Config
from .split_epaper import split_page
from .tag import Tagger, build_tagger, tag_entry

log = logging.getLogger("aggregator.ingest")


def read_entries(path: Path, kind: str, issue_date: date | None) -> tuple[Entry, ...]:
    """The pure part of ingest: one local file into entries."""
    text, _ = decode(path.read_bytes())
    if kind == "epaper-text":
        return tuple(split_page(text, issue_date=issue_date))
    if kind == "posts":
        return (parse_post(text, path=str(path)),)
    if kind == "html":
        return (extract_article(text, path.resolve().as_uri()),)
    raise ConfigError(f"unknown --kind {kind!r}")


def entry_json(entry: Entry, outlet: str, tags, issue_date: date | None) -> dict[str, Any]:
    """The documented JSON shape of one ingested item."""
    from .cli import tags_json

    data: dict[str, Any] = {
        "type": entry.type,
        "title": entry.title,
        "kicker": entry.kicker,
        "subtitle": entry.subtitle,
        "reporters": list(entry.reporters),
        "body": entry.text,
        "published": entry.published.isoformat() if entry.published else None,
        "outlet": outlet,
        "outlet_name": entry.outlet_name,
        "url": entry.url,
        "position": entry.position,
        "truncated": entry.truncated,
    }
    if issue_date:
        data["dates"] = [{"text": t, "start": s, "date": d.isoformat()}
                         for t, s, d in resolve_mentions(entry.text, issue_date)]
    data.update(tags_json(tags))
    return data


def ingest_files(
    config: Config,
    paths: Sequence[Path],
    *,
    kind: str,
    outlet: str,
    outlet_name: str | None,
    home: str | None,
    topics: tuple[str, ...],
    issue_date: date | None,
    dry_run: bool,
) -> list[dict[str, Any]]:
    db = store.open_db(config.db)
    tagger = build_tagger(db, config.topics or None)
    out = []
    for path in tqdm(paths, desc="ingest", unit="file", file=sys.stderr,
                     disable=len(paths) < 5):
        entries = read_entries(path, kind, issue_date)
        if not dry_run:
            with store.transaction(db):
                store.ensure_outlet_source(db, outlet, outlet_name)
                if home:
                    db.execute("UPDATE sources SET region = coalesce(region, ?) WHERE id = ?",
                               [home, outlet])
                apply_entries(db, tagger, outlet, entries, home=home, topics=topics,
                              now=store.utcnow())
        for e in entries:
            out.append(entry_json(e, outlet, tag_entry(tagger, e, home=home, topics=topics),
                                  issue_date))
    db.conn.close()
    return out


def _records(file: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    fh = sys.stdin if file == "-" else open(file, encoding="utf-8")  # noqa: SIM115
    try:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                yield n, None, f"line {n}: not JSON ({exc})"
                continue
            if not isinstance(rec, dict):
                yield n, None, f"line {n}: not a JSON object"
                continue
            yield n, rec, None
    finally:
        if fh is not sys.stdin:
            fh.close()


def record_entry(rec: dict[str, Any]) -> Entry:
    """One JSONL record (id, outlet, title, published, url, body) as an Entry."""
    from .clean import text_to_html

    body = str(rec.get("body") or "")
    ext = str(rec.get("id") or "")
    key = "import:" + (ext or hashlib.sha1(body.encode("utf-8")).hexdigest())
    title = str(rec.get("title") or "").strip() or body[:40]
    return Entry(
        key=key,
        title=title,
        url=rec.get("url") or None,
        author=rec.get("author") or None,
        published=parse_date(rec["published"]) if rec.get("published") else None,
        summary=body[:200],
        content_html=text_to_html(body),
        text=body,
        outlet_name=rec.get("outlet_name") or None,
    )


#: Entries per chunk of analysis handed to a worker process during an import.
IMPORT_CHUNK = 64
#: WAL pages between automatic checkpoints during an import (about 40 MB).
IMPORT_WAL_PAGES = 10_000


def import_jsonl(
    config: Config, file: str, *, batch: int = 500, workers: int | None = None
) -> dict[str, int]:
    """Import a JSONL file in batches of one transaction each; bad records are skipped.

    Tagging and the merger's normalising run in `workers` forked processes (default: one per
    core, see analyse.default_workers; 0: in this process) while this process stores, indexes
    and merges every article in file order, so the result is the same either way. A file of
    one chunk or less is analysed here: forking would cost more than it saves.
    """
    db = store.open_db(config.db)
    # A bulk import writes much more than a poll: checkpointing the WAL every 1,000 pages
    # (SQLite's default) would copy the same hot index pages into the database over and over.
    db.conn.execute(f"PRAGMA wal_autocheckpoint = {IMPORT_WAL_PAGES}")
    tagger: Tagger = build_tagger(db, config.topics or None)
    homes = {r["id"]: (r["region"], tuple(json.loads(r["topics"] or "[]")))
             for r in db.query("SELECT id, region, topics FROM sources")}
    counts = {"read": 0, "new": 0, "updated": 0, "skipped": 0}
    Item = tuple[str, Entry, str | None]  # outlet, entry, the record's own id

    def jobs() -> Iterator[tuple[Item, Job]]:
        for _, rec, problem in _records(file):
            counts["read"] += 1
            if problem or rec is None:
                log.warning("skipped %s", problem)
                counts["skipped"] += 1
                continue
            outlet = str(rec.get("outlet") or "").strip().lower()
            if not outlet or not (rec.get("body") or rec.get("title")):
                log.warning("skipped record %s: needs outlet and body", rec.get("id"))
                counts["skipped"] += 1
                continue
            try:
                entry = record_entry(rec)
            except (ValueError, TypeError) as exc:
                log.warning("skipped record %s: %s", rec.get("id"), exc)
                counts["skipped"] += 1
                continue
            home, topics = homes.get(outlet, (None, ()))
            yield (outlet, entry, str(rec["id"]) if rec.get("id") else None), (entry, home, topics)

    pending: list[tuple[Item, Analysis | None]] = []

    def flush() -> None:
        if not pending:
            return
        with store.transaction(db):
            for (outlet, entry, ext), analysis in pending:
                if outlet not in homes:
                    store.ensure_outlet_source(db, outlet, entry.outlet_name)
                    homes[outlet] = (None, ())
                home, topics = homes[outlet]
                new, updated, _ = apply_entries(
                    db, tagger, outlet, [entry], home=home, topics=topics, now=store.utcnow(),
                    ext_ids=[ext], analyses=[analysis] if analysis is not None else None,
                )
                counts["new"] += new
                counts["updated"] += updated
        pending.clear()

    stream = jobs()
    head = list(itertools.islice(stream, IMPORT_CHUNK + 1))
    todo = itertools.chain(head, stream)
    wanted = analyse.default_workers() if workers is None else workers
    analyser = None
    if wanted > 0 and len(head) > IMPORT_CHUNK:
        try:  # forked before the progress bar starts its monitor thread
            analyser = analyse.Analyser(tagger, wanted)
        except OSError as exc:
            log.warning("analysing in this process: no worker processes (%s)", exc)
    try:
        with tqdm(desc="import", unit="article", file=sys.stderr) as bar:
            done: Iterable[tuple[Item, Analysis | None]] = (
                ((item, None) for item, _job in todo)
                if analyser is None
                else analyse.pipelined(todo, analyser, chunk=IMPORT_CHUNK)
            )
            for item, analysis in done:
                pending.append((item, analysis))
                if len(pending) >= batch:
                    flush()
                    bar.update(counts["read"] - bar.n)
            flush()
            bar.update(counts["read"] - bar.n)
    finally:
        if analyser is not None:
            analyser.close()
        with contextlib.suppress(sqlite3.Error):  # the import pays for its own checkpoint
            db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        db.conn.close()
    return counts
