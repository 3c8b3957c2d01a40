"""The command line: thin calls into the library, `--help` on every command.

With `--json`, stdout carries JSON only; logs and progress bars go to stderr, so scripts can
pipe the output. Every command takes `--db` and `--config` (env AGGREGATOR_DB,
AGGREGATOR_CONFIG).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from . import __version__, store
from .errors import AggregatorError
from .settings import Config, describe, load_config

log = logging.getLogger("aggregator")


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("trafilatura").setLevel(logging.WARNING)


def common(fn: Callable) -> Callable:
    """--db and --config on every command; builds the Config and reports errors politely."""

    @click.option("--config", "config_path", envvar="AGGREGATOR_CONFIG",
                  type=click.Path(dir_okay=False), help="settings file (TOML) [env AGGREGATOR_CONFIG]")
    @click.option("--db", envvar="AGGREGATOR_DB", type=click.Path(dir_okay=False),
                  help="SQLite database file [env AGGREGATOR_DB; default data/aggregator.db]")
    @functools.wraps(fn)
    def wrapper(config_path: str | None, db: str | None, **kwargs: Any) -> Any:
        overrides = {"db": db}
        for key in ("host", "port", "feeds"):
            if key in kwargs:
                overrides[key] = kwargs.pop(key)
        try:
            config = load_config(config_path, overrides)
            setup_logging(config.log_level)
            return fn(config, **kwargs)
        except AggregatorError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def listen_options(fn: Callable) -> Callable:
    fn = click.option("--port", type=int, envvar="AGGREGATOR_PORT",
                      help="port to listen on [env AGGREGATOR_PORT; default 8080]")(fn)
    fn = click.option("--host", envvar="AGGREGATOR_HOST",
                      help="address to listen on [env AGGREGATOR_HOST; default 127.0.0.1]")(fn)
    return fn


def feeds_option(fn: Callable) -> Callable:
    return click.option("--feeds", envvar="AGGREGATOR_FEEDS",
                        help="source definitions: a directory of *.toml, a file or a glob "
                             "[env AGGREGATOR_FEEDS; default feeds]")(fn)


def emit(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aggregator")
def main() -> None:
    """Aggregate Chinese regional and local news and publish it as feeds.

    Start with `aggregator run`, then open http://127.0.0.1:8080/.
    """


@main.command()
@listen_options
@feeds_option
@common
def run(config: Config) -> None:
    """Run the daemon: poll sources on schedule and serve the feeds."""
    from .daemon import run_daemon

    sys.exit(asyncio.run(run_daemon(config)))


@main.command()
@listen_options
@common
def serve(config: Config) -> None:
    """Serve the feeds from the database, without polling."""
    from .daemon import run_daemon

    sys.exit(asyncio.run(run_daemon(config, poll=False)))


@main.command()
@click.option("--once", is_flag=True, help="poll once and exit (otherwise keep polling)")
@click.option("--all", "all_", is_flag=True, help="poll every enabled source now, due or not")
@click.option("--source", "source_ids", multiple=True, help="poll only this source (repeatable)")
@click.option("--backfill", metavar="FROM:TO",
              help="e-paper sources: fetch the issues of these dates (YYYY-MM-DD:YYYY-MM-DD)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object per source polled")
@feeds_option
@common
def poll(config: Config, once: bool, all_: bool, source_ids: tuple[str, ...],
         backfill: str | None, as_json: bool) -> None:
    """Poll sources: with --once, every due source once (a progress bar on stderr)."""
    from .daemon import run_daemon

    span = None
    if backfill:
        try:
            start, _, end = backfill.partition(":")
            span = (date.fromisoformat(start), date.fromisoformat(end or start))
        except ValueError:
            raise click.BadParameter("use YYYY-MM-DD:YYYY-MM-DD", param_hint="--backfill") from None
        once = True
    if not once:
        sys.exit(asyncio.run(run_daemon(config, serve=False)))
    results = asyncio.run(_poll_once(config, all_, source_ids, span))
    failed = 0
    for r in results:
        failed += r.outcome == "error"
        if as_json:
            emit(r.__dict__)
    if not as_json:
        click.echo(f"polled {len(results)} sources: "
                   f"{sum(r.new for r in results)} new, {sum(r.updated for r in results)} updated,"
                   f" {failed} failed", err=False)


async def _poll_once(config: Config, all_: bool, source_ids: tuple[str, ...],
                     backfill: tuple[date, date] | None = None) -> list:
    from .daemon import make_fetcher, read_sources
    from .pipeline import Poller
    from .writer import Writer

    sources = read_sources(config)
    writer = Writer(config.db)
    try:
        await writer.write(store.sync_sources, sources)
        now = store.iso(store.utcnow())
        rows = await writer.call(lambda db: {r["id"]: r for r in db.query("SELECT * FROM sources")})
        if source_ids:
            unknown = set(source_ids) - {s.id for s in sources}
            if unknown:
                raise click.ClickException(f"unknown source(s): {', '.join(sorted(unknown))}; "
                                           "see `aggregator sources list`")
            chosen = [s for s in sources if s.id in source_ids]
        else:
            chosen = [s for s in sources if s.enabled and (
                all_ or not rows.get(s.id, {}).get("next_poll")
                or rows[s.id]["next_poll"] <= now)]
        async with make_fetcher(config) as fetcher:
            poller = Poller(writer, fetcher, topics_file=config.topics or None,
                            concurrency=config.concurrency)
            from .scheduler import Schedule

            schedule = Schedule(poller, jitter=config.jitter)
            bar = tqdm(total=len(chosen), desc="polling", unit="source", file=sys.stderr,
                       disable=not chosen)

            async def one(s):
                result = await poller.poll(s, backfill=backfill)
                await schedule._reschedule(s, result)
                bar.update(1)
                return result

            results = await asyncio.gather(*(one(s) for s in chosen))
            bar.close()
        return list(results)
    finally:
        writer.close()


@main.group()
def sources() -> None:
    """List and check the sources defined in feeds/*.toml."""


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON objects, one per line")
@feeds_option
@common
def sources_list(config: Config, as_json: bool) -> None:
    """Every source with its state: last poll, errors, next poll, articles.

    The state is in words: ok, backing off until …, waiting until … (Retry-After), disabled
    (with the reason, e.g. 410 Gone), and a permanent redirect being confirmed."""
    from .daemon import read_sources
    from .policy import describe
    from .views import source_list

    defs = read_sources(config)
    db = store.open_db(config.db)
    with store.transaction(db):
        store.sync_sources(db, defs)
    rows = source_list(db)
    db.conn.close()
    now = store.utcnow()
    for r in rows:
        state = describe(
            now, enabled=bool(r["enabled"]), disabled_reason=r.get("disabled_reason"),
            errors=r["error_count"] or 0, next_poll=store.parse_iso(r["next_poll"]),
            retry_after=store.parse_iso(r.get("retry_after")),
            redirect_target=r.get("redirect_target"), redirect_count=r.get("redirect_count") or 0,
        )
        if as_json:
            emit({**{k: r.get(k) for k in (
                "id", "name", "kind", "url", "defined_url", "enabled", "disabled_reason",
                "defined", "region", "last_polled", "last_ok", "last_status", "error_count",
                "last_error", "next_poll", "retry_after", "redirect_target", "redirect_count",
                "max_age", "ttl", "publish_rate", "articles")}, "state": state})
            continue
        short = state.split(";")[0]
        short = short if len(short) <= 40 else short[:39] + "…"
        click.echo(f"{r['id']:<24} {r['name'][:16]:<16} {r['kind']:<11} {short:<40} "
                   f"{r['articles']:>6} articles  next {r['next_poll'] or '-'}")
        if ";" in state or len(state.split(";")[0]) > 40:
            click.echo(f"{'':<24} state: {state}")
        if r.get("defined_url") and r["url"] != r["defined_url"]:
            click.echo(f"{'':<24} moved: polling {r['url']} (defined as {r['defined_url']})")
        if r["last_error"]:
            click.echo(f"{'':<24} last error: {r['last_error']}")


@sources.command("check")
@feeds_option
@common
def sources_check(config: Config) -> None:
    """Validate every source definition; errors name the file, source and field."""
    from .daemon import read_sources

    defs = read_sources(config)
    click.echo(f"{len(defs)} sources OK in {config.feeds}")


@main.group()
def opml() -> None:
    """Import and export sources as OPML."""


@opml.command("import")
@click.argument("location")
@click.option("--to", "target", type=click.Path(dir_okay=False),
              help="TOML file the new sources are appended to [default FEEDS/imported.toml]")
@feeds_option
@common
def opml_import(config: Config, location: str, target: str | None) -> None:
    """Add every feed of an OPML file (path or URL) as a source of kind feed."""
    from .opml import import_opml

    added = asyncio.run(import_opml(config, location, target))
    click.echo(f"added {len(added)} sources" + (f": {', '.join(added)}" if added else ""))


@opml.command("export")
@feeds_option
@common
def opml_export(config: Config) -> None:
    """Print the sources as OPML on stdout."""
    from .daemon import read_sources
    from .render import render_opml

    defs = read_sources(config)
    feeds = [(s.name, s.url, s.options.get("home", s.url)) for s in defs if s.kind == "feed"]
    sys.stdout.buffer.write(render_opml("aggregator sources", feeds, html_url=config.public_url))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@common
def stats(config: Config, as_json: bool) -> None:
    """Counts: sources, articles, stories, fetches, failing sources."""
    db = store.open_db(config.db)
    data = {name: db.execute(sql).fetchone()[0] for name, sql in (
        ("sources", "SELECT count(*) FROM sources"),
        ("sources_failing", "SELECT count(*) FROM sources WHERE error_count > 0"),
        ("articles", "SELECT count(*) FROM articles"),
        ("stories", "SELECT count(*) FROM stories"),
        ("fetches", "SELECT count(*) FROM fetches"),
        ("newest_article", "SELECT max(sort_time) FROM articles"),
    )}
    data["db"] = str(Path(config.db).resolve())
    if as_json:
        emit(data)
    else:
        for k, v in data.items():
            click.echo(f"{k:<16} {v}")


@main.command()
@common
def config(config: Config) -> None:
    """Every setting with its default, environment variable and help."""
    click.echo(describe())


def tags_json(tags) -> dict[str, list[dict[str, Any]]]:
    """The one shape of tags printed by `tag` and `ingest`."""
    return {
        "regions": [{"code": r.code, "name": r.name, "level": r.level,
                     "score": round(r.score, 3)} for r in tags.regions],
        "topics": [{"slug": t.slug, "name": t.name, "score": round(t.score, 3)}
                   for t in tags.topics],
    }


def _outlet_def(config: Config, outlet: str | None):
    from .daemon import read_sources

    if not outlet:
        return None
    try:
        defs = read_sources(config)
    except AggregatorError:
        return None
    return next((s for s in defs if s.id == outlet), None)


@main.command()
@click.argument("file", required=False, default="-")
@click.option("--outlet", help="outlet id whose home region gives context (我区, 我市)")
@click.option("--region", help="home region code, when the outlet defines none")
@click.option("--json", "as_json", is_flag=True, help="print JSON (regions and topics)")
@feeds_option
@common
def tag(config: Config, file: str, outlet: str | None, region: str | None, as_json: bool) -> None:
    """Print the regions and topics of one text (FILE or - for stdin); first line = title."""
    from .tag import build_tagger, tag_text

    text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    title, _, body = text.strip().partition("\n")
    source = _outlet_def(config, outlet)
    home = region or (source.region if source else None)
    db = store.open_db(config.db)
    tags = tag_text(build_tagger(db, config.topics or None), title, body, home=home,
                    topics=source.topics if source else ())
    data = tags_json(tags)
    if as_json:
        emit(data)
    else:
        for r in data["regions"]:
            click.echo(f"{r['level']:<8} {r['code']:<12} {r['name']} ({r['score']})")
        for t in data["topics"]:
            click.echo(f"topic    {t['slug']:<24} {t['name']} ({t['score']})")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--kind", type=click.Choice(["epaper-text", "posts", "html"]), required=True,
              help="what the files are")
@click.option("--outlet", required=True, help="outlet id (need not be defined in feeds/)")
@click.option("--name", "outlet_name", help="outlet name, for an outlet no source defines")
@click.option("--region", help="home region code, when the outlet defines none")
@click.option("--date", "issue", type=click.DateTime(["%Y-%m-%d"]),
              help="issue date of e-paper text (resolves 昨天, 11月13日)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object per item")
@click.option("--dry-run", is_flag=True, help="do not store anything")
@feeds_option
@common
def ingest(config: Config, paths: tuple[str, ...], kind: str, outlet: str,
           outlet_name: str | None, region: str | None, issue, as_json: bool,
           dry_run: bool) -> None:
    """Run the whole pipeline on local files: split, tag, merge and (unless --dry-run) store."""
    from .ingest import ingest_files

    issue_date: date | None = issue.date() if issue else None
    source = _outlet_def(config, outlet)
    items = ingest_files(
        config, [Path(p) for p in paths], kind=kind, outlet=outlet,
        outlet_name=outlet_name or (source.name if source else None),
        home=region or (source.region if source else None),
        topics=source.topics if source else (), issue_date=issue_date, dry_run=dry_run,
    )
    for item in items:
        if as_json:
            emit(item)
        else:
            click.echo(f"{item['position'] or '-':>3} {item['type']:<7} {item['title']}")
    if not as_json:
        click.echo(f"{len(items)} items" + (" (dry run, nothing stored)" if dry_run else " stored"),
                   err=True)


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="print a JSON summary")
@click.option("--batch", default=500, show_default=True, help="articles per transaction")
@common
def import_(config: Config, file: str, as_json: bool, batch: int) -> None:
    """Import articles from JSONL (id, outlet, title, published, url, body) through the full
    pipeline: normalise, tag, merge, store. Each record's own id is kept in articles.ext_id."""
    from .ingest import import_jsonl

    summary = import_jsonl(config, file, batch=batch)
    if as_json:
        emit(summary)
    else:
        click.echo(" ".join(f"{k}={v}" for k, v in summary.items()))


@main.group()
def geo() -> None:
    """The gazetteer: import official township lists (see README, Regions)."""


@geo.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="print a JSON summary")
@common
def geo_import(config: Config, files: tuple[str, ...], as_json: bool) -> None:
    """Import division lists: streets.csv or pcas-code.json (townships), result.csv (history)."""
    from .gazetteer import import_divisions, store_divisions

    db = store.open_db(config.db)
    counts = {}
    for f in files:
        rows = import_divisions(Path(f))
        with store.transaction(db):
            store_divisions(db, rows)
        counts[f] = len(rows)
    if as_json:
        emit({"imported": counts})
    else:
        for f, n in counts.items():
            click.echo(f"{f}: {n} divisions")


if __name__ == "__main__":
    main()
