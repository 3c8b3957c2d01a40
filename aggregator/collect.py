"""Collectors for sources without feeds: e-paper sites (``epaper-html``) and list pages (``page``).

A collector walks a site with an injected ``get`` (URL in, decoded `Page` out), so it owns no
HTTP session and can be driven by the real fetcher, a test server or a file reader alike. It
fetches each article page at most once: links the store already holds (``seen``) and links
met twice in one run are skipped. The ideas: which issue dates to poll is a pure function of
the stored state and today (`issue_days`); a missing issue (HTTP 404) is normal, not an
error; and a day counts as done only when its pages were all read and the article budget did
not run out, so an interrupted issue is polled again next time.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from .epaper_html import (
    DEFAULT_ARTICLE_LINK,
    DEFAULT_PAGE_LINK,
    issue_url,
    parse_article,
    parse_issue_page,
)
from .errors import ConfigError, FetchError, ParseError
from .extract import date_from_url, extract_article
from .listpage import check_selectors, parse_list
from .model import Entry, SourceDef


@dataclass(frozen=True)
class Page:
    """One fetched document, already decoded."""

    url: str  # final URL after redirects
    status: int
    text: str  # decoded text ('' when not 200)
    headers: Mapping[str, str] = field(default_factory=dict)


#: Fetch one URL. Raises `FetchError` on network failure; an HTTP error is a `Page` status.
Get = Callable[[str], Awaitable[Page]]


@dataclass(frozen=True)
class Collected:
    """What one poll of one source produced."""

    entries: tuple[Entry, ...]
    state: Mapping[str, Any]  # small JSON-able per-source state to store
    warnings: tuple[str, ...]


def _never_seen(url: str) -> bool:
    return False


async def collect(
    source: SourceDef,
    get: Get,
    state: Mapping[str, Any],
    *,
    today: date,
    backfill: tuple[date, date] | None = None,
    seen: Callable[[str], bool] = _never_seen,
) -> Collected:
    """Poll one ``epaper-html`` or ``page`` source; `backfill` re-reads a range of issues."""
    if source.kind == "epaper-html":
        return await _collect_epaper(source, get, state, today=today, backfill=backfill, seen=seen)
    if source.kind == "page":
        return await _collect_page(source, get, state, today=today, seen=seen)
    raise ConfigError(
        f"source '{source.id}': kind {source.kind!r} is not collected from HTML pages"
    )


# --------------------------------------------------------------------------- shared


class _Run:
    """One poll's fetching: each URL once, failures turned into warnings."""

    def __init__(self, get: Get) -> None:
        self._get = get
        self.fetched: set[str] = set()
        self.warnings: list[str] = []

    async def fetch(self, url: str, *, absent_ok: bool = False) -> Page | None:
        """The page when it came back 200; None (with a warning unless 404 is expected)."""
        self.fetched.add(url)
        try:
            page = await self._get(url)
        except FetchError as exc:
            self.warnings.append(f"{url}: {exc}")
            return None
        if page.status == 200:
            return page
        if not (absent_ok and page.status in (404, 410)):
            self.warnings.append(f"{url}: HTTP {page.status}")
        return None


def _option_int(source: SourceDef, key: str, default: int) -> int:
    value = source.options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"source '{source.id}': options.{key} must be a whole number >= 0")
    return value


def _selectors(source: SourceDef, key: str) -> Mapping[str, object] | None:
    value = source.options.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(f"source '{source.id}': options.{key} must be a table of CSS selectors")
    return value


# --------------------------------------------------------------------------- e-paper


def issue_days(
    last_issue: date | None,
    today: date,
    *,
    backfill: tuple[date, date] | None = None,
    max_days: int = 7,
    initial_days: int = 2,
) -> tuple[list[date], str | None]:
    """The issue dates to poll, oldest first, and a note when days had to be skipped.

    A backfill is its range. Otherwise polling resumes the day after the last issue seen
    (or re-reads today's issue, which may still be filling up), never looking back more than
    `max_days`; a source never polled starts `initial_days` back, so a poll just after
    midnight still finds yesterday's paper.
    """
    if backfill is not None:
        start, end = sorted(backfill)
        return [start + timedelta(days=i) for i in range((end - start).days + 1)], None
    if last_issue is None:
        start = today - timedelta(days=max(initial_days, 1) - 1)
    elif last_issue >= today:
        start = today
    else:
        start = last_issue + timedelta(days=1)
    note = None
    earliest = today - timedelta(days=max(max_days, 1) - 1)
    if start < earliest:
        note = (
            f"{(earliest - start).days} day(s) of issues before {earliest} were not polled; "
            "run a backfill for them"
        )
        start = earliest
    return [start + timedelta(days=i) for i in range((today - start).days + 1)], note


def _parse_day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@dataclass
class _Issue:
    """Article links of one issue, each with its page name and order on that page."""

    links: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    complete: bool = True


async def _read_issue(
    run: _Run, first: Page, day: date, opts: Mapping[str, Any], max_pages: int
) -> _Issue:
    issue = _Issue()
    page_re = str(opts.get("page_link") or DEFAULT_PAGE_LINK)
    article_re = str(opts.get("article_link") or DEFAULT_ARTICLE_LINK)
    queue, visited = [first], {first.url}
    labels: dict[str, str] = {}
    capped = False
    while queue:
        page = queue.pop(0)
        pages, articles = parse_issue_page(
            page.text, page.url, day=day, page_link=page_re, article_link=article_re
        )
        for link in pages:
            labels.setdefault(link.url, link.label)
        page_name = labels.get(page.url, "")
        for order, link in enumerate(articles, 1):
            issue.links.setdefault(link.url, (link.label, page_name, order))
        for link in pages:
            if link.url in visited:
                continue
            if len(visited) >= max_pages:
                if not capped:
                    run.warnings.append(f"{first.url}: more than {max_pages} pages; rest not read")
                capped, issue.complete = True, False
                break
            visited.add(link.url)
            nxt = await run.fetch(link.url)
            if nxt is None:
                issue.complete = False
            else:
                queue.append(nxt)
    return issue


async def _collect_epaper(
    source: SourceDef,
    get: Get,
    state: Mapping[str, Any],
    *,
    today: date,
    backfill: tuple[date, date] | None,
    seen: Callable[[str], bool],
) -> Collected:
    opts = source.options
    pattern = opts.get("page_pattern")
    if not isinstance(pattern, str) or "%" not in pattern:
        raise ConfigError(
            f"source '{source.id}': an epaper-html source needs options.page_pattern, the "
            'issue\'s first page relative to url with date codes, e.g. "html/%Y-%m/%d/node_2.htm"'
        )
    selectors = _selectors(source, "article")
    budget = _option_int(
        source, "backfill_max_articles" if backfill else "max_articles", 5000 if backfill else 300
    )
    max_pages = _option_int(source, "max_pages", 40)
    last = _parse_day(state.get("last_issue"))
    days, note = issue_days(
        last,
        today,
        backfill=backfill,
        max_days=_option_int(source, "max_days", 7),
        initial_days=_option_int(source, "initial_days", 2),
    )
    run = _Run(get)
    if note:
        run.warnings.append(note)
    entries: list[Entry] = []
    new_last, contiguous = last, True
    for day in days:
        url = issue_url(source.url, pattern, day)
        warned = len(run.warnings)
        first = await run.fetch(url, absent_ok=True)
        if first is None:
            # Absent (404) is normal; a failed fetch leaves the day to be polled again.
            contiguous = contiguous and len(run.warnings) == warned
            continue
        if date_from_url(first.url) not in (None, day):
            continue  # the site redirected a missing date to another issue
        issue = await _read_issue(run, first, day, opts, max_pages)
        for link, (title, page_name, order) in issue.links.items():
            if link in run.fetched or seen(link):
                continue
            if budget <= 0:
                issue.complete = False
                break
            budget -= 1
            page = await run.fetch(link)
            if page is None:
                continue
            try:
                entry = parse_article(
                    page.text,
                    link,
                    day=day,
                    page=page_name or None,
                    link_title=title,
                    selectors=selectors,
                )
            except ParseError as exc:
                run.warnings.append(str(exc))
                continue
            entries.append(dataclasses.replace(entry, position=order))
        contiguous = contiguous and issue.complete
        if contiguous and issue.links and (new_last is None or day > new_last):
            new_last = day
    new_state = dict(state)
    if new_last is not None and not backfill:
        new_state["last_issue"] = new_last.isoformat()
    return Collected(tuple(entries), new_state, tuple(run.warnings))


# --------------------------------------------------------------------------- list pages

# Links to documents that are not article pages (attachments, media) are never fetched.
_NOT_HTML = re.compile(
    r"\.(?:pdf|docx?|xlsx?|pptx?|wps|zip|rar|7z|jpe?g|png|gif|mp4|mp3|apk)$", re.I
)


def _is_html(page: Page) -> bool:
    ctype = next((v for k, v in page.headers.items() if k.lower() == "content-type"), "")
    return not ctype or "html" in ctype.lower() or "xml" in ctype.lower()


async def _collect_page(
    source: SourceDef,
    get: Get,
    state: Mapping[str, Any],
    *,
    today: date,
    seen: Callable[[str], bool],
) -> Collected:
    try:
        check_selectors(source.options)
    except ConfigError as exc:
        raise ConfigError(f"source '{source.id}': {exc}") from None
    selectors = _selectors(source, "article")
    budget = _option_int(source, "max_articles", 50)
    run = _Run(get)
    listing = await run.fetch(source.url)
    if listing is None:
        return Collected((), dict(state), tuple(run.warnings))
    items = parse_list(listing.text, listing.url, source.options, today=today)
    if not items:
        run.warnings.append(f"{listing.url}: no list entries match options.items")
    entries: list[Entry] = []
    for item in items:
        path = urlsplit(item.url).path
        if seen(item.url) or item.url in run.fetched or _NOT_HTML.search(posixpath.basename(path)):
            continue
        if budget <= 0:
            break
        budget -= 1
        page = await run.fetch(item.url)
        if page is None:
            continue
        if not _is_html(page):
            run.warnings.append(f"{item.url}: not an HTML page; skipped")
            continue
        try:
            entry = extract_article(page.text, page.url, selectors=selectors, today=today)
        except ParseError as exc:
            run.warnings.append(str(exc))
            continue
        entries.append(
            dataclasses.replace(
                entry,
                key=item.url,
                url=item.url,
                title=entry.title or item.title,
                published=entry.published or item.published,
                position=item.position,
            )
        )
    return Collected(tuple(entries), dict(state), tuple(run.warnings))
