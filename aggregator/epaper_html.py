"""Newspaper e-paper sites in HTML: issue pages (版面) to article links, article pages to entries.

Most Chinese city dailies publish their print edition with Founder (方正) e-paper software,
whose URLs are driven by the issue date: ``html/2024-03/05/node_2.htm`` (page 1 of the issue,
listing the other pages) and ``content_123.htm`` (one article), or in the newer layout
``pc/layout/202403/05/node_A01.html`` and ``pc/content/202403/05/content_123.html``. Article
pages carry the headline stack in ``<founder-introtitle>`` (kicker, 引题), ``<founder-title>``
and ``<founder-subtitle>`` (副题), or in ``#PreTitle/#Title/#SubTitle``, and repeat them in an
``<!--enpproperty <title>…</title><introtitle>…</introtitle> … /enpproperty-->`` comment.

The ideas: an issue is found by formatting the issue date into a configurable URL pattern;
page and article links are recognised by a configurable file-name pattern and kept only when
they belong to the same issue (same directory for pages, same date for articles) so the
calendar links every page carries never pull in other days; and each headline field is read
from the first of several places that has it. Pure functions only.
"""

from __future__ import annotations

import html as htmllib
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import urldefrag, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from .errors import ParseError
from .extract import (
    date_from_url,
    day_start,
    drop_paragraphs,
    html_to_paragraphs,
    node_text,
    parse_date,
    reporters_from_byline,
    sanitize_html,
    split_byline,
    strip_trailer,
    summarise,
    unbreak_title,
)
from .model import ARTICLE, PHOTO, Entry

#: File names of issue pages and article pages in the Founder layouts (old and new).
DEFAULT_PAGE_LINK = r"node_[^/]*\.html?$"
DEFAULT_ARTICLE_LINK = r"content_[^/]*\.html?$"


@dataclass(frozen=True)
class IssueLink:
    """A link found on an issue page: its absolute URL and its label (page name or headline)."""

    url: str
    label: str = ""


def issue_url(base: str, pattern: str, day: date) -> str:
    """URL of the issue page for `day`: `pattern` (strftime codes) resolved against `base`.

    ``issue_url("https://epaper.example.cn/site1/czrb/", "html/%Y-%m/%d/node_2.htm", d)``.
    """
    path = day.strftime(pattern)
    if not base.endswith("/"):
        base += "/"
    return urljoin(base, path)


_NAV_LABELS = re.compile(
    r"^(?:上一[版页篇期]|下一[版页篇期]|前一[版页]|后一[版页]|返回.*|PDF.*|版面导航|目录|首页)\W*$",
    re.I,
)
_PAGE_LABEL = re.compile(r"第?\s*[A-Z]?\d{1,3}\s*版|^[A-Z]\d{1,3}\b")


def _label_score(label: str, *, page: bool) -> tuple[int, int]:
    if not label or _NAV_LABELS.match(label):
        return (0, 0)
    if page and _PAGE_LABEL.search(label):
        return (2, len(label))
    return (1, len(label))


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def parse_issue_page(
    html_text: str,
    url: str,
    *,
    day: date | None = None,
    page_link: str = DEFAULT_PAGE_LINK,
    article_link: str = DEFAULT_ARTICLE_LINK,
) -> tuple[tuple[IssueLink, ...], tuple[IssueLink, ...]]:
    """(page links, article links) on one issue page, in page order, without duplicates.

    A page link must sit in the same directory as `url` (the issue's directory); an article
    link must be on the same site and, when its URL carries a date, carry `day` (or the date
    in `url`). Labels come from the link text; "下一版"-style navigation text never wins over
    a real page name, and an image-map ``<area>`` (no text) is named by a later text link.
    """
    tree = LexborHTMLParser(html_text)
    base = url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = urljoin(url, base_node.attributes.get("href") or "")
    issue_day = day or date_from_url(url)
    here_dir = posixpath.dirname(urlsplit(url).path)
    here_host = _host(url)
    page_re, article_re = re.compile(page_link, re.I), re.compile(article_link, re.I)

    found: dict[str, dict[str, str]] = {"page": {}, "article": {}}
    for node in tree.css("a[href], area[href]"):
        href = (node.attributes.get("href") or "").strip()
        if not href or href.startswith(("javascript:", "mailto:", "#")):
            continue
        target = urldefrag(urljoin(base, htmllib.unescape(href)))[0]
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or _host(target) != here_host:
            continue
        if page_re.search(parts.path) and posixpath.dirname(parts.path) == here_dir:
            kind = "page"
        elif article_re.search(parts.path):
            link_day = date_from_url(target)
            if issue_day and link_day and link_day != issue_day:
                continue
            kind = "article"
        else:
            continue
        label = node_text(node) if node.tag == "a" else ""
        label = label or (node.attributes.get("title") or "").strip()
        if _NAV_LABELS.match(label):
            label = ""  # "下一版" names a direction, not the page
        bucket = found[kind]
        if target not in bucket or _label_score(label, page=kind == "page") > _label_score(
            bucket[target], page=kind == "page"
        ):
            bucket[target] = label
    pages = tuple(IssueLink(u, lbl) for u, lbl in found["page"].items())
    articles = tuple(IssueLink(u, lbl) for u, lbl in found["article"].items())
    return pages, articles


# --------------------------------------------------------------------------- article pages

_ENP_BLOCK = re.compile(r"<!--\s*enpproperty(.*?)/enpproperty\s*-->", re.S | re.I)
_ENP_FIELD = re.compile(r"<([a-z]+)>(.*?)</\1>", re.S | re.I)
_ENP_CONTENT = re.compile(r"<!--\s*enpcontent\s*-->(.*?)<!--\s*/enpcontent\s*-->", re.S | re.I)
_TAGS = re.compile(r"<[^>]+>")


def enp_properties(html_text: str) -> dict[str, str]:
    """Fields of the ``<!--enpproperty … /enpproperty-->`` comment, tags and entities removed."""
    m = _ENP_BLOCK.search(html_text)
    if not m:
        return {}
    fields: dict[str, str] = {}
    for name, value in _ENP_FIELD.findall(m.group(1)):
        # Values are sometimes wrapped (<title><p>…</p></title>) or split by <br>.
        text = _TAGS.sub(" ", re.sub(r"<br\s*/?>", " ", value, flags=re.I))
        text = re.sub(r"[\s\u3000\u00a0]+", " ", htmllib.unescape(text)).strip()
        fields.setdefault(name.lower(), text)
    return fields


_TITLE_AT = ("founder-title", "#Title", "#title", ".article h1", "h1", "h2.title")
_KICKER_AT = ("founder-introtitle", "#PreTitle", "#pretitle", ".pretitle", ".introtitle")
_SUBTITLE_AT = ("founder-subtitle", "#SubTitle", "#subtitle", ".subtitle")
_AUTHOR_AT = ("founder-author", "#Author", ".author")
_BODY_AT = ("founder-content", "#ozoom", "#articleContent", ".articleContent", "#ScroLL", ".ScroLL")
_PICTURE_AT = (".attachment img", ".pic img", "img[src*='/res/']", "img[src*='attpic']")


def _first(tree: LexborHTMLParser, where: tuple[str, ...] | list[str]) -> str:
    for sel in where:
        texts = [t for t in (node_text(n) for n in tree.css(sel)) if t]
        if texts:
            return texts[0]
    return ""


def _title(tree: LexborHTMLParser, enp: Mapping[str, str], override: list[str]) -> str:
    if override and (text := _first(tree, override)):
        return text
    # Some sites also wrap the paper's own name in founder-title; the headline is the one
    # the enpproperty comment names, else the longest.
    wanted = enp.get("title", "")
    candidates = [t for t in (node_text(n) for n in tree.css("founder-title")) if t]
    if candidates:
        found = wanted if wanted in candidates else max(candidates, key=len)
    else:
        found = _first(tree, _TITLE_AT[1:3])
    # A <br> inside the headline is a line break of the print layout: when the comment has
    # the same headline without it, its unbroken spelling is the truer one.
    if found and wanted and re.sub(r"\s+", "", found) == re.sub(r"\s+", "", wanted):
        return wanted
    return found or (
        enp.get("title", "")
        or _first(tree, _TITLE_AT[3:])
        or _first(tree, ("tr[valign=top] strong",))
    )


def _sel(selectors: Mapping[str, object], key: str) -> list[str]:
    value = selectors.get(key)
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]  # type: ignore[union-attr]


def _pictures(tree: LexborHTMLParser, body_html: str, url: str) -> str:
    """Figures attached beside the text (Founder keeps them outside the text container)."""
    seen: list[str] = []
    for sel in _PICTURE_AT:
        for img in tree.css(sel):
            src = (img.attributes.get("src") or "").strip()
            if src and src not in seen and src not in body_html:
                seen.append(src)
    return "".join(f'<figure><img src="{htmllib.escape(urljoin(url, s))}"></figure>' for s in seen)


def parse_article(
    html_text: str,
    url: str,
    *,
    day: date | None = None,
    page: str | None = None,
    link_title: str | None = None,
    selectors: Mapping[str, object] | None = None,
) -> Entry:
    """One e-paper article page as an `Entry` dated by its issue (`day`, else its URL).

    `selectors` may override where ``title``, ``kicker``, ``subtitle``, ``author`` and ``body``
    are read from. `page` (the 版面 name) becomes the entry's category; `link_title` (the
    headline as the issue page links it) helps undo line breaks inside the headline. Raises `ParseError`
    when the page holds neither a headline nor text (an error page, a bare picture frame).
    """
    selectors = selectors or {}
    enp = enp_properties(html_text)
    tree = LexborHTMLParser(html_text)
    for junk in tree.css("script, style"):
        junk.decompose()

    title = _title(tree, enp, _sel(selectors, "title"))
    kicker = _first(tree, _sel(selectors, "kicker") or _KICKER_AT) or enp.get("introtitle", "")
    subtitle = _first(tree, _sel(selectors, "subtitle") or _SUBTITLE_AT) or enp.get("subtitle", "")
    author_text = _first(tree, _sel(selectors, "author") or _AUTHOR_AT) or enp.get("author", "")

    body_html = ""
    for sel in _sel(selectors, "body") or _BODY_AT:
        node = tree.css_first(sel)
        if node is not None and node_text(node):
            body_html = node.html or ""
            break
    if not body_html and (m := _ENP_CONTENT.search(html_text)):
        body_html = m.group(1)

    paragraphs = html_to_paragraphs(body_html)
    # Some layouts repeat the headline stack as the first lines of the text.
    while paragraphs and paragraphs[0] in {title, kicker, subtitle} - {""}:
        paragraphs.pop(0)
    reporters, kept = split_byline(strip_trailer(paragraphs))
    body_html = drop_paragraphs(body_html, [p for p in paragraphs if p not in kept])
    paragraphs = kept
    reporters = tuple(dict.fromkeys(reporters_from_byline(author_text) + reporters))
    if not title:
        title, kicker = kicker, ""
    doc_title = tree.css_first("title")
    title = unbreak_title(title, doc_title.text() if doc_title else "", link_title or "")
    if not title and not paragraphs:
        raise ParseError(f"no article on e-paper page {url}: no headline and no text")

    issue_day = day or date_from_url(url)
    published = day_start(issue_day) if issue_day else parse_date(enp.get("date"))
    pictures = _pictures(tree, body_html, url)
    content_html = sanitize_html(pictures + body_html, url)
    has_image = "<img" in content_html
    return Entry(
        key=url,
        title=title,
        url=url,
        author="、".join(reporters) if reporters else (author_text or None),
        published=published,
        summary=summarise(paragraphs),
        content_html=content_html,
        text="\n\n".join(paragraphs),
        kicker=kicker or None,
        subtitle=subtitle or None,
        reporters=reporters,
        type=PHOTO if has_image and sum(map(len, paragraphs)) < 80 else ARTICLE,
        categories=(page,) if page else (),
    )
