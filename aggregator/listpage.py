"""Article links from an HTML list page (a government "要闻" column, a county news site).

Sites without feeds still publish a list: one repeated element per story, holding a link, a
title and a date. The source's TOML names that element and its parts with CSS selectors
(``items``, ``link``, ``title``, ``date``); this module applies them and returns plain
`ListItem`s with absolute URLs and dates. Two habits of such lists are handled here rather
than in every source definition: titles cut short on screen ("…") with the full title kept in
a ``title`` attribute, and dates written without the year ("[03-05]"), which need the
caller's `today` to be placed. Pure functions only.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urldefrag, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from .errors import ConfigError
from .extract import node_text, parse_date

#: Keys a list source's options may use for its selectors.
SELECTOR_KEYS = ("items", "link", "title", "date")


@dataclass(frozen=True)
class ListItem:
    """One story as the list shows it."""

    url: str
    title: str
    published: datetime | None = None  # Beijing time; midnight when the list shows a date only
    position: int = 0  # order on the list, from 1


def check_selectors(selectors: Mapping[str, object]) -> None:
    """Raise `ConfigError` unless ``items`` is given and every selector compiles."""
    if not selectors.get("items"):
        raise ConfigError("a list page needs options.items: a CSS selector for one list entry")
    probe = LexborHTMLParser("<html><body></body></html>")
    for key in SELECTOR_KEYS:
        value = selectors.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"options.{key} must be a CSS selector string (got {value!r})")
        try:
            probe.css(value)
        except SelectolaxError:
            raise ConfigError(f"options.{key} is not a valid CSS selector: {value!r}") from None


_ELLIPSIS = re.compile(r"(?:…+|\.{2,}|。。+)\s*$")


def _title(link: LexborNode, title_node: LexborNode | None) -> str:
    """The visible title, or the full one from a ``title`` attribute when the text is cut."""
    shown = node_text(title_node if title_node is not None else link)
    for node in (title_node, link):
        if node is None:
            continue
        full = htmllib.unescape((node.attributes.get("title") or "").strip())
        if not full:
            continue
        stem = _ELLIPSIS.sub("", shown)
        if not shown or (full.startswith(stem) and len(full) >= len(shown)):
            return re.sub(r"\s+", " ", full)
    return shown


def _link(item: LexborNode, selector: str | None) -> LexborNode | None:
    if selector:
        return item.css_first(selector)
    if item.tag == "a" and item.attributes.get("href"):
        return item
    return item.css_first("a[href]")


def parse_list(
    html_text: str,
    url: str,
    selectors: Mapping[str, object],
    *,
    today: date | None = None,
) -> tuple[ListItem, ...]:
    """The stories of one list page, in list order, each URL once.

    `selectors` are the source's options: ``items`` (required) selects one entry; within it
    ``link`` selects the anchor (default: the entry itself or its first link), ``title`` the
    title text (default: the anchor) and ``date`` the date text (default: any date in the
    entry's text). Entries without a usable http(s) link are skipped.
    """
    check_selectors(selectors)
    tree = LexborHTMLParser(html_text)
    base = url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = urljoin(url, base_node.attributes.get("href") or "")

    items: dict[str, ListItem] = {}
    for entry in tree.css(str(selectors["items"])):
        link = _link(entry, selectors.get("link"))  # type: ignore[arg-type]
        href = (link.attributes.get("href") or "").strip() if link is not None else ""
        if not href or href.startswith(("javascript:", "mailto:", "tel:", "#")):
            continue
        target = urldefrag(urljoin(base, htmllib.unescape(href)))[0]
        if urlsplit(target).scheme not in ("http", "https") or target in items:
            continue
        title_sel = selectors.get("title")
        title_node = entry.css_first(str(title_sel)) if title_sel else None
        title = _title(link, title_node)  # type: ignore[arg-type]
        date_sel = selectors.get("date")
        if date_sel:
            published = parse_date(node_text(entry.css_first(str(date_sel))), today=today)
        else:
            # Without a date selector, look for a date beside the title, not inside it.
            rest = node_text(entry).replace(node_text(link), " ")  # type: ignore[arg-type]
            published = parse_date(rest, today=today)
        items[target] = ListItem(target, title, published, len(items) + 1)
    return tuple(items.values())
