"""Make foreign HTML safe to republish, and turn HTML into plain text and back.

Everything we serve was written by someone else, so HTML passes through one allow-list
sanitiser (nh3, i.e. Rust's ammonia) before it is stored: a small set of structural tags,
http/https/mailto URLs only, no scripts, handlers, frames or styles, and every relative URL
made absolute so the HTML still works when read elsewhere. Plain text keeps the paragraph
structure (one blank line between paragraphs) and never inserts spaces between Chinese
characters: a line break inside Chinese text is a layout artefact, not a word gap.
"""

from __future__ import annotations

import html as htmllib
import re
from urllib.parse import urlsplit

import nh3
from selectolax.lexbor import LexborHTMLParser

ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "a",
        "img",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "blockquote",
        "strong",
        "em",
        "b",
        "i",
        "u",
        "s",
        "del",
        "ins",
        "sub",
        "sup",
        "small",
        "hr",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "th",
        "td",
        "caption",
        "figure",
        "figcaption",
        "pre",
        "code",
        "span",
        "div",
    }
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Tags removed together with everything inside them: their content is code, a nested
# document, or fallback text that would read as noise.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "noscript",
        "template",
        "svg",
        "math",
        "canvas",
        "select",
        "textarea",
        "button",
        "head",
        "title",
    }
)
LINK_REL = "noopener noreferrer nofollow"

# Characters illegal in XML 1.0 (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Block elements whose start tags make HTML5 parsers scan the open-element stack (<p>, <li>
# and headings close themselves, so they cannot pile up).
_BLOCK_TAG = re.compile(
    r"<(/?)(?:div|section|article|aside|blockquote|ul|ol|dl|figure|figcaption|pre|center"
    r"|address|details|dialog|dir|fieldset|footer|header|hgroup|main|menu|nav|summary"
    r"|listing)\b[^>]*>",
    re.I,
)
_DEEP_CHECK_CHARS = 20_000
_MAX_DEPTH = 300
# Lazy-loading pages put the real image in data-src and a placeholder (or nothing) in src.
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.I)
_LAZY_SRC = re.compile(
    r"""\sdata-(?:src|original|lazy-src|lazy|url|echo)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""",
    re.I,
)
_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")
_A_WITHOUT_HREF = re.compile(r"<a(?![^>]*\shref=)[^>]*>(.*?)</a>", re.S)
_BLANK_LINES = re.compile(r"\n\s*\n")
_SRC_ATTR = re.compile(r"""\ssrc\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.I)


_NH3_OPTIONS: dict = {
    "tags": set(ALLOWED_TAGS),
    "clean_content_tags": set(DROPPED_WITH_CONTENT),
    "attributes": {tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    "url_schemes": set(URL_SCHEMES),
    "link_rel": LINK_REL,
    "strip_comments": True,
}


def strip_control(text: str) -> str:
    """Remove characters that XML 1.0 forbids; they break every feed they reach."""
    return _XML_ILLEGAL.sub("", text)


def sanitise_html(html: str, *, base_url: str | None = None) -> str:
    """Allow-list sanitise `html`; relative URLs are resolved against `base_url` if given."""
    if not html:
        return ""
    html = _flatten_deep_nesting(strip_control(html))
    if "data-" in html:
        html = _IMG_TAG.sub(_promote_lazy_src, html)
    options = dict(_NH3_OPTIONS)
    if base_url and _is_web_url(base_url):
        options["url_relative"] = ("rewrite_with_base", base_url)
    try:
        cleaned = nh3.clean(html, **options)
    except (ValueError, TypeError):
        # An unusable base URL is ammonia's only reason to refuse; sanitise without it.
        options.pop("url_relative", None)
        cleaned = nh3.clean(html, **options)
    return _tidy(cleaned)


def _tidy(cleaned: str) -> str:
    """Drop what sanitising left empty: images without src, links without href, blank runs."""
    if "<img" in cleaned:
        cleaned = _IMG_WITHOUT_SRC.sub("", cleaned)
    if "<a" in cleaned:
        cleaned = _A_WITHOUT_HREF.sub(r"\1", cleaned)
    return _BLANK_LINES.sub("\n", cleaned).strip()


def _flatten_deep_nesting(html: str) -> str:
    """Replace block tags by <br> when they nest absurdly deep.

    HTML5 tree building checks the open-element stack for every block start tag, so N nested
    <div>s cost O(N²): 25,000 of them (125 KB) take seconds in both nh3 and lexbor. Real
    articles nest a few dozen levels; a document nesting hundreds deep is broken or hostile,
    and keeping its text matters more than its layout.
    """
    if len(html) < _DEEP_CHECK_CHARS:
        return html
    depth = deepest = 0
    for match in _BLOCK_TAG.finditer(html):
        depth = max(0, depth - 1) if match.group(1) else depth + 1
        deepest = max(deepest, depth)
    if deepest <= _MAX_DEPTH:
        return html
    return _BLOCK_TAG.sub("<br>", html)


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _promote_lazy_src(match: re.Match[str]) -> str:
    tag = match.group(0)
    lazy = _LAZY_SRC.search(tag)
    if lazy is None:
        return tag
    url = next(g for g in lazy.groups() if g is not None).strip()
    if not url or url.startswith("data:"):
        return tag
    tag = _SRC_ATTR.sub("", tag)
    return tag[:4] + f' src="{htmllib.escape(url)}"' + tag[4:]


# --- HTML to plain text ---------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    }
)
_CELL_TAGS = frozenset({"td", "th"})
_SKIP_TAGS = DROPPED_WITH_CONTENT | {"-comment", "!doctype", "img", "input", "video", "audio"}

# Markers used while walking; XML-illegal, so they cannot occur in (stripped) input.
_LINE = "\x01"
_PARA = "\x02"
_CELL = "\x03"

# CJK characters and the punctuation Chinese shares with Western text (quotes, dashes,
# ellipsis, middle dot): a line break next to them inside Chinese prose is not a word gap.
_CJK = (
    "\u2e80-\u2fff\u3001-\u303f\u3040-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
    "\U00020000-\U0003134f\u2014\u2018-\u201d\u2026\u00b7"
)
# A whitespace run containing a line break between two CJK characters is a layout artefact.
_CJK_BREAK = re.compile(rf"(?<=[{_CJK}])[^\S\n\r]*[\n\r]\s*(?=[{_CJK}])")
_SPACES = re.compile(r"\s+")
# A <br> followed by ideographic-space indentation starts a new paragraph in Chinese layout.
_INDENTED_LINE = re.compile(_LINE + "[ \t\r\n\xa0]*\u3000")
_ZERO_WIDTH = re.compile("[\u200b\u2060\ufeff]")


def html_to_text(html: str) -> str:
    """Plain text of `html`: paragraphs separated by one blank line, lines kept within them."""
    if not html:
        return ""
    html = strip_control(html)
    if "<" not in html and "&" not in html:
        return _layout(html)
    html = _flatten_deep_nesting(html)
    tree = LexborHTMLParser(html)
    root = tree.body
    if root is None:
        return ""
    return _layout("".join(_walk(root)))


def _walk(root) -> list[str]:
    """Text nodes in document order, with markers for line and paragraph breaks."""
    out: list[str] = []
    stack: list[tuple[object, bool]] = [(root, False)]
    pre_depth = 0
    while stack:
        node, leaving = stack.pop()
        if leaving:
            tag = node.tag
            if tag == "pre":
                pre_depth -= 1
            out.append(_CELL if tag in _CELL_TAGS else _PARA)
            continue
        tag = node.tag
        if tag == "-text":
            value = node.text_content or ""
            if pre_depth:
                value = value.replace("\r\n", "\n").replace("\n", _LINE)
            out.append(value)
            continue
        if tag == "br":
            out.append(_LINE)
            continue
        if tag in _SKIP_TAGS:
            continue
        if tag in _BLOCK_TAGS or tag in _CELL_TAGS:
            if tag == "pre":
                pre_depth += 1
            if tag not in _CELL_TAGS:
                out.append(_PARA)
            stack.append((node, True))
        children = []
        child = node.child
        while child is not None:
            children.append(child)
            child = child.next
        stack.extend((c, False) for c in reversed(children))
    return out


def _layout(raw: str) -> str:
    """Collapse whitespace and turn the walk's markers into newlines."""
    raw = _ZERO_WIDTH.sub("", raw)
    raw = _INDENTED_LINE.sub(_PARA, raw)
    raw = _CJK_BREAK.sub("", raw)
    raw = _SPACES.sub(" ", raw)
    raw = raw.replace(_CELL, " ")
    paragraphs: list[str] = []
    for block in raw.split(_PARA):
        lines: list[str] = []
        for line in block.split(_LINE):
            line = line.strip()
            if line:
                lines.append(line)
            elif lines:
                # An empty line (<br><br>) ends a paragraph.
                paragraphs.append("\n".join(lines))
                lines = []
        if lines:
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def collapse_whitespace(text: str) -> str:
    """One line of text: whitespace runs become one space, none between CJK characters."""
    text = _ZERO_WIDTH.sub("", strip_control(text))
    return _SPACES.sub(" ", _CJK_BREAK.sub("", text)).strip()


def text_to_html(text: str) -> str:
    """Plain text as HTML: blank-line-separated paragraphs become <p>, line breaks <br>."""
    paragraphs = re.split(r"\n\s*\n", strip_control(text).replace("\r\n", "\n").strip())
    parts = []
    for para in paragraphs:
        lines = [htmllib.escape(line.strip(), quote=False) for line in para.split("\n")]
        body = "<br>".join(line for line in lines if line)
        if body:
            parts.append(f"<p>{body}</p>")
    return "".join(parts)
