"""Read a Markdown or HTML post with YAML front matter (a Jekyll/Hugo `_posts` file) as an Entry.

Many mirror sites republish local papers' articles as static-site posts: front matter for title,
date and categories, then the article body, then a line naming where it came from
(`（文章来源：江南日报）`, `原文链接：…`, a bare link) and some navigation links. The ideas:

1. The body is rendered (Markdown → HTML, HTML kept as is) and then sanitised with nh3's
   defaults; everything after that works on the sanitised tree, never on the raw input.
2. Provenance is data, not text: the source line and the original link become `outlet_name`
   and `url`, the byline lead `本报讯(记者 X)` becomes `reporters`, and navigation links are
   dropped, so the plain text is the article and nothing else.

Pure: text in, Entry out; the caller reads the file and passes its path only for naming.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urljoin

import lxml.html
import nh3
import yaml

from .bylines import split_lead
from .dates import parse_date
from .errors import ParseError
from .model import Entry

__all__ = ["markdown_to_html", "parse_post", "split_front_matter"]

SUMMARY_CHARS = 120

_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_BLOCK_TAGS = {
    "p", "div", "li", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "tr", "td", "th", "dl", "dt", "dd", "figure", "figcaption", "section", "article",
    "header", "footer", "aside", "nav", "hr", "details", "summary", "caption",
}  # fmt: skip
_SOURCE = re.compile(
    r"^[(（【\[]?\s*(?:文章|稿件|新闻|信息)?(?:(?:来源|出处)\s*[:：]|(?:转自|转载自)\s*[:：]?)\s*"
    r"(?P<name>[^()（）【】\[\]]{2,40}?)\s*[)）】\]]?$"
)
_TRAILING_SOURCE = re.compile(
    r"[(（]\s*(?:文章|稿件)?(?:来源|转自)\s*[:：]\s*(?P<name>[^()（）]{2,30})\s*[)）]\s*$"
)
_ORIGINAL = re.compile(r"原文|阅读全文|查看全文|source|original", re.I)
_NAV = re.compile(r"^(?:返回|回到|上一篇|下一篇|更多|首页|目录|分享|打印|关闭|top$)", re.I)
_URL = re.compile(r"^(?:https?:)?//\S+$")
_LINK_SEPARATORS = re.compile(r"^[\s|｜/·•,，、>»\-–—]*$")
_EDITOR = re.compile(r"^[(（]?(?:责任编辑|责编|编辑|审核|校对|值班编辑)\s*[:：]")
_CJK = r"\u3400-\u9fff\u3000-\u303f\uff00-\uffef"
_URL_KEYS = ("source_url", "original_url", "original", "canonical_url", "url", "link", "source")
_OUTLET_KEYS = ("outlet", "source_name", "publisher", "source", "media")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body). Unreadable YAML counts as none: the body is still a post."""
    m = _FRONT.match(text)
    if not m:
        return {}, text
    try:
        # BaseLoader keeps every scalar a string: `title: 2022` stays "2022", dates stay as
        # written for parse_date, and no YAML tag can build objects
        meta = yaml.load(m.group(1), Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader is safe
    except yaml.YAMLError:
        meta = None
    return (meta if isinstance(meta, dict) else {}), text[m.end() :]


def markdown_to_html(text: str) -> str:
    """CommonMark with raw HTML allowed (posts mix both); unsanitised, the caller cleans it."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # markdown-it-py is optional: news posts need little Markdown
        return _plain_markdown(text)
    return MarkdownIt("commonmark").enable("table").render(text)


def _plain_markdown(text: str) -> str:
    """Enough Markdown for news posts when markdown-it-py is missing: paragraphs, headings,
    links and autolinks; lines that start with a tag pass through as HTML."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block:
            continue
        if block.startswith("<") and not block.startswith(("<http", "<https")):
            out.append(block)
            continue
        block = re.sub(r"<((?:https?:)?//[^>\s]+)>", r'<a href="\1">\1</a>', block)
        block = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', block)
        heading = re.match(r"^(#{1,6})\s+(.*)$", block)
        if heading:
            level = len(heading.group(1))
            out.append(f"<h{level}>{heading.group(2)}</h{level}>")
        else:
            out.append(f"<p>{block}</p>")
    return "\n".join(out)


def parse_post(text: str, *, path: str | None = None, base_url: str | None = None) -> Entry:
    """One post as an Entry: title, dates, categories, sanitised HTML, plain text, provenance.

    `path` names the file (its stem is the key when the front matter has no id or url, and a
    Jekyll `YYYY-MM-DD-` prefix is the date when it has none); `base_url` resolves relative
    and protocol-relative links. Raises ParseError only when there is no title to be had.
    """
    meta, body = split_front_matter(text)
    is_html = bool(path) and str(path).lower().endswith((".html", ".htm"))
    root = _tree(nh3.clean(body if is_html else markdown_to_html(body)))
    found = _take_provenance(root, base_url)
    title = _meta_str(meta, "title")
    first_heading = _take_heading(root, only_if=title)
    title = title or first_heading
    headings = {_text(h) for h in root.iter("h1", "h2", "h3", "h4", "h5", "h6")}
    paragraphs = [p for p in _paragraphs(root) if not _EDITOR.match(p)]
    if paragraphs and (m := _TRAILING_SOURCE.search(paragraphs[-1])):
        found.setdefault("outlet", m.group("name").strip())
        paragraphs[-1] = paragraphs[-1][: m.start()].rstrip()
    reporters: tuple[str, ...] = ()
    if paragraphs and (lead := split_lead(paragraphs[0])):
        reporters = lead[0]
        paragraphs = ([lead[1]] if lead[1] else []) + paragraphs[1:]
    paragraphs = [p for p in paragraphs if p]
    title = title or _first_sentence(paragraphs) or _stem(path)
    if not title:
        raise ParseError(
            f"post {path or '(unnamed)'} has no title; add `title:` to its front matter"
        )
    url = _meta_url(meta, base_url) or found.get("url") or _permalink(meta, base_url)
    published = parse_date(meta.get("date") or _path_date(path))
    key = _meta_str(meta, "id") or _meta_str(meta, "guid") or _meta_str(meta, "url") or _stem(path)
    return Entry(
        key=key or "post:" + hashlib.sha1(f"{title}|{published}".encode()).hexdigest()[:16],
        title=title,
        url=url,
        author=_author(meta) or (" ".join(reporters) or None),
        published=published,
        updated=parse_date(
            meta.get("updated") or meta.get("last_modified_at") or meta.get("modified")
        ),
        summary=_summary(meta, [p for p in paragraphs if p not in headings]),
        content_html=_inner_html(root),
        text="\n\n".join(paragraphs),
        reporters=reporters,
        categories=_categories(meta),
        outlet_name=_meta_outlet(meta) or found.get("outlet"),
    )


# --- the sanitised tree ------------------------------------------------------------------------


def _tree(clean_html: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(clean_html or "", create_parent="div")


def _text(el: lxml.html.HtmlElement) -> str:
    return re.sub(r"\s+", " ", el.text_content()).strip()


def _leaf_blocks(root: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    """Block elements with no block inside: the paragraphs as the author laid them out."""
    return [
        el
        for el in root.iterdescendants()
        if isinstance(el.tag, str)
        and el.tag in _BLOCK_TAGS
        and not any(isinstance(d.tag, str) and d.tag in _BLOCK_TAGS for d in el.iterdescendants())
    ]


def _take_provenance(root: lxml.html.HtmlElement, base_url: str | None) -> dict[str, str]:
    """Find the source line, the original link and navigation; remove them from the tree."""
    found: dict[str, str] = {}
    for el in _leaf_blocks(root):
        text = _text(el)
        links = [a for a in el.iter("a") if a.get("href")]
        residue = text
        for a in links:
            residue = residue.replace(_text(a), "", 1)
        only_links = bool(links) and _LINK_SEPARATORS.match(residue)
        if m := _SOURCE.match(text):
            name = m.group("name").strip()
            if _URL.match(name):
                found.setdefault("url", _absolute(name, base_url) or "")
            else:
                found.setdefault("outlet", name)
            if links:  # `来源：<a href=…>江南日报</a>` names the outlet and links the original
                found.setdefault("url", _absolute(links[0].get("href"), base_url) or "")
        elif _ORIGINAL.search(text) and links and len(text) <= 80:
            found.setdefault("url", _absolute(links[0].get("href"), base_url) or "")
        elif _URL.match(text):
            found.setdefault("url", _absolute(text, base_url) or "")
        elif only_links and all(_NAV.match(_text(a)) or _URL.match(_text(a)) for a in links):
            for a in links:
                if _URL.match(_text(a)):
                    found.setdefault("url", _absolute(a.get("href"), base_url) or "")
        else:
            continue
        el.drop_tree()
    return {k: v for k, v in found.items() if v}


def _take_heading(root: lxml.html.HtmlElement, *, only_if: str | None = None) -> str | None:
    """The first <h1>, taken out of the body: it is the title when the front matter has none,
    and a repeat of it when it says the same (`only_if`)."""
    h1 = next(root.iter("h1"), None)
    if h1 is None:
        return None
    title = _text(h1)
    if only_if is not None and re.sub(r"\s", "", title) != re.sub(r"\s", "", only_if):
        return None
    h1.drop_tree()
    return title or None


def _paragraphs(root: lxml.html.HtmlElement) -> list[str]:
    """Plain-text paragraphs: block boundaries and <br> break, soft line breaks between Han
    characters vanish (Markdown sources wrap Chinese lines), other whitespace collapses."""
    parts: list[str] = []

    def walk(node: lxml.html.HtmlElement) -> None:
        block = isinstance(node.tag, str) and (node.tag in _BLOCK_TAGS or node.tag == "br")
        if block:
            parts.append("\n\n")
        if node.text and isinstance(node.tag, str):
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append("\n\n")

    walk(root)
    out = []
    for chunk in re.split(r"\n\s*\n", "".join(parts)):
        chunk = re.sub(rf"(?<=[{_CJK}])[ \t]*\n\s*(?=[{_CJK}])", "", chunk)
        chunk = re.sub(r"\s+", " ", chunk).strip()
        if chunk:
            out.append(chunk)
    return out


def _inner_html(root: lxml.html.HtmlElement) -> str:
    inner = (root.text or "") + "".join(
        lxml.html.tostring(child, encoding="unicode") for child in root
    )
    return inner.strip()


# --- front matter ------------------------------------------------------------------------------


def _meta_str(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _meta_url(meta: dict[str, Any], base_url: str | None) -> str | None:
    for key in _URL_KEYS:
        value = _meta_str(meta, key)
        if value and (_URL.match(value) or (base_url and value.startswith("/"))):
            return _absolute(value, base_url)
    return None


def _meta_outlet(meta: dict[str, Any]) -> str | None:
    for key in _OUTLET_KEYS:
        value = _meta_str(meta, key)
        if value and not _URL.match(value) and "/" not in value:
            return value
    return None


def _permalink(meta: dict[str, Any], base_url: str | None) -> str | None:
    link = _meta_str(meta, "permalink")
    return urljoin(base_url, link) if link and base_url else None


def _absolute(href: str | None, base_url: str | None) -> str | None:
    if not href:
        return None
    if base_url:
        return urljoin(base_url, href)
    if href.startswith("//"):
        return "https:" + href
    return href if re.match(r"^https?://", href) else None


def _author(meta: dict[str, Any]) -> str | None:
    value = meta.get("author")
    if isinstance(value, dict):
        value = value.get("name")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _categories(meta: dict[str, Any]) -> tuple[str, ...]:
    """Categories, then tags; Jekyll reads a string of them as space-separated."""
    out: list[str] = []
    for key in ("categories", "category", "tags"):
        value = meta.get(key)
        items = (
            value.split() if isinstance(value, str) else value if isinstance(value, list) else []
        )
        out.extend(str(v).strip() for v in items if isinstance(v, str) and v.strip())
    return tuple(dict.fromkeys(out))


def _summary(meta: dict[str, Any], paragraphs: list[str]) -> str:
    for key in ("excerpt", "description", "summary"):
        if value := _meta_str(meta, key):
            return re.sub(r"\s+", " ", nh3.clean(value, tags=set())).strip()
    text = "".join(paragraphs)
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS].rstrip() + "…"


def _first_sentence(paragraphs: list[str]) -> str | None:
    """A title for a post that has none: its opening sentence, if that is short enough."""
    if not paragraphs:
        return None
    first = re.split(r"(?<=[。！？!?])", paragraphs[0], maxsplit=1)[0]
    return first if len(first) <= 40 else first[:30] + "…"


def _stem(path: str | None) -> str | None:
    if not path:
        return None
    return PurePosixPath(str(path).replace("\\", "/")).stem or None


def _path_date(path: str | None) -> str | None:
    stem = _stem(path) or ""
    m = re.match(r"^(\d{4}-\d{2}-\d{2})-", stem)
    return m.group(1) if m else None
