"""Full text of one article page: title, date, byline, paragraphs and sanitised HTML.

Chinese news and government pages put the story in one container (``#zoom``, ``#ozoom``,
``.article-content`` ...) and the metadata in a few well-worn places: the ``<meta name=
"ArticleTitle|PubDate|ContentSource">`` tags government CMSs are required to emit, a
"发布时间：… 来源：…" line under the title, and a byline such as "本报记者 张三 通讯员 李四"
or "本报讯（记者 张三）" at the top of the text. The idea: when the source gives CSS selectors,
trust them; else use a container whose name says "story" (``#zoom`` …); else let
trafilatura find the main text; and fill the metadata from those conventions. Everything
here is pure (text in, `Entry` out); the helpers for dates, bylines, paragraphs and
sanitising are shared with `listpage` and `epaper_html`.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit

import lxml.html
from lxml import etree
from selectolax.lexbor import LexborHTMLParser, LexborNode

from .clean import sanitise_html
from .decode import decode, normalise_charset_name
from .errors import ParseError
from .model import ARTICLE, PHOTO, Entry

#: Chinese outlets date their stories in Beijing time; a bare date means that day there.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

# --------------------------------------------------------------------------- decoding


def decode_html(body: bytes, header_charset: str | None = None) -> str:
    """Decode an HTML page: BOM, then the HTTP charset, then ``<meta charset>``, then evidence.

    A thin front to `aggregator.decode` (the fetcher's decoder) for callers that hold only
    the charset parameter: GBK/GB2312 are read as GB18030, and a declaration the bytes do
    not bear out is skipped rather than trusted.
    """
    # A Latin-1 label in the header of a Chinese page is a server default, not a statement;
    # left in, it would win (cp1252 decodes any bytes) over the page's own <meta charset>.
    if normalise_charset_name(header_charset) in ("", "cp1252"):
        header_charset = None
    headers = {"content-type": f"text/html; charset={header_charset}"} if header_charset else None
    return decode(body, headers)[0]


# --------------------------------------------------------------------------- dates

_FULL_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)\s*日?"
    r"(?:\s*(?:T\s*)?(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?)?"
)
_COMPACT_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?!\d)")
_MONTH_DAY = re.compile(
    r"(?<![\d.])(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?![\d.])\s*日?"
    r"(?:\s*(\d{1,2})\s*:\s*(\d{2}))?"
)


def _mk(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime | None:
    try:
        return datetime(y, m, d, hh, mm, ss, tzinfo=CHINA_TZ)
    except ValueError:
        return None


def parse_date(text: str | None, *, today: date | None = None) -> datetime | None:
    """The first date (and time, if given) in `text`, in Beijing time.

    Understands ``2024-03-05``, ``2024/3/5 14:30``, ``2024年3月5日``, ``20240305`` and, when
    `today` is known, a bare ``[03-05]`` or ``3月5日`` (the most recent such day not after
    `today`, so a January list showing ``12-30`` means last December).
    """
    if not text:
        return None
    text = text.strip()
    m = _FULL_DATE.search(text)
    if m:
        y, mo, d, hh, mi, ss = m.groups()
        return _mk(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0))
    m = _COMPACT_DATE.search(text)
    if m:
        return _mk(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if today is not None:
        m = _MONTH_DAY.search(text)
        if m:
            mo, d, hh, mi = m.groups()
            found = _mk(today.year, int(mo), int(d), int(hh or 0), int(mi or 0))
            if found is not None and found.date() > today:
                found = _mk(today.year - 1, int(mo), int(d), int(hh or 0), int(mi or 0))
            return found
    return None


_URL_DATES = (
    re.compile(r"(?<!\d)((?:19|20)\d{2})-(\d{1,2})/(\d{1,2})(?=/)"),  # html/2024-03/05/
    re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})/(\d{2})(?=/)"),  # layout/202403/05/
    re.compile(r"(?<!\d)((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})(?=/)"),  # art/2024/3/5/
    re.compile(r"(?<!\d)((?:19|20)\d{2})-(\d{2})-(\d{2})(?!\d)"),  # 2024-03-05
    re.compile(r"(?<![\d])((?:19|20)\d{2})(\d{2})(\d{2})(?=[/_.])"),  # t20240305_1.html
)


def date_from_url(url: str) -> date | None:
    """The publication date a CMS wrote into an article or page URL, if any."""
    path = urlsplit(url).path
    for pattern in _URL_DATES:
        m = pattern.search(path)
        if m:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                continue
    return None


def day_start(day: date) -> datetime:
    """Midnight in Beijing: the publication time of an undated-in-time print issue."""
    return datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ)


# --------------------------------------------------------------------------- bylines

_CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"

# Role words are stripped only from the front of a token, so a name containing 文 or 图
# (李文华) survives; the lone tokens 文 / 图 of "文/图 张三" fall out as too short for a name.
_ROLE_PREFIX = re.compile(
    r"^(?:(?:本报|本刊|本台|本网|特约|首席|全媒体|融媒体|见习|实习|驻[\u4e00-\u9fff]{1,4}?)*"
    r"(?:摄影记者|记者|通讯员|实习生|摄影|撰稿|撰文|编辑|整理|作者|文图|图文))+"
)
_ROLE_WORD = re.compile(r"记者|通讯员|实习生|摄影|撰稿|撰文|编辑|整理|作者|^文$|^图$|文图|图文")
_NAME = re.compile(r"^[\u4e00-\u9fff]{2,4}$|^[\u4e00-\u9fff]{1,6}·[\u4e00-\u9fff]{1,8}$")
_NOT_NAMES = frozenset(
    ["本报", "本报讯", "综合", "消息", "新华社", "据悉", "供图", "资料图", "责任编辑", "报道", "讯"]
)
_BYLINE_MARKS = re.compile(r"[■□●◆▲△★☆◎▉█]|[（()）【】\[\]〔〕]")
_TOKEN_SPLIT = re.compile(r"[\s、，,；;：:|/／]+")
_LEAD_BYLINE = re.compile(r"^\s*.{0,20}?(?:讯|电)\s*[（(]([^（()）]{2,60})[)）]")


def _byline_tokens(text: str) -> tuple[bool, list[str], bool]:
    """(has a role word, the names, every token was a role word or a name)."""
    s = _BYLINE_MARKS.sub(" ", htmllib.unescape(text)).replace("本报讯", " ")
    has_role, names, clean = False, [], True
    for token in _TOKEN_SPLIT.split(s):
        if not token:
            continue
        if _ROLE_WORD.search(token):
            has_role = True
        rest = _ROLE_PREFIX.sub("", token)
        if len(rest) >= 3 and rest.endswith("摄"):  # "李四摄": photo credit
            rest = rest[:-1]
        if not rest or rest in ("文", "图", "摄"):
            continue
        if _NAME.match(rest) and rest not in _NOT_NAMES:
            if rest not in names:
                names.append(rest)
        else:
            clean = False
    return has_role, names, clean


def reporters_from_byline(text: str | None) -> tuple[str, ...]:
    """Names in a byline such as "本报记者 张三 李四 通讯员 王五" or "文/图 张三"."""
    if not text:
        return ()
    return tuple(_byline_tokens(text)[1])


def _is_byline_line(line: str) -> bool:
    """A short line made only of role words and names, e.g. "■本报记者 王晓东 通讯员 李青"."""
    if len(line) > 40:
        return False
    has_role, names, clean = _byline_tokens(line)
    return has_role and clean and bool(names)


_TRAILER = re.compile(
    r"^[（(【\[]?\s*(?:责任编辑|责编|编辑|审核|审校|校对|监制|终审|初审|复审|值班编辑|来源)\s*[:：]"
)


def strip_trailer(paragraphs: list[str]) -> list[str]:
    """Drop the editors' sign-off lines ("责任编辑：马丽", "审核：…") that end many pages."""
    paras = list(paragraphs)
    while paras and len(paras[-1]) <= 60 and _TRAILER.match(paras[-1]):
        paras.pop()
    return paras


def unbreak_title(title: str, *references: str) -> str:
    """`title` without the spaces a ``<br>`` left between Chinese characters, when a
    reference (the page's ``<title>``, a list link) spells the headline without them."""
    if not re.search(rf"{_CJK}\s+{_CJK}", title):
        return title
    squashed = re.sub(r"\s+", "", title)
    if any(squashed in re.sub(r"\s+", "", ref or "") for ref in references):
        return squashed
    return title


def split_byline(paragraphs: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """Take a standalone byline paragraph off the top (or a "（张三）" off the end).

    The "本报讯（记者 张三）3月5日…" lead stays in the text: it is the dateline sentence, but
    its names are returned as reporters.
    """
    reporters: list[str] = []
    paras = list(paragraphs)
    while paras and _is_byline_line(paras[0]):
        reporters.extend(reporters_from_byline(paras.pop(0)))
    if paras:
        m = _LEAD_BYLINE.match(paras[0])
        if m and _byline_tokens(m.group(1))[0]:
            reporters.extend(reporters_from_byline(m.group(1)))
    if len(paras) > 1:
        tail = re.fullmatch(r"[（(]\s*([^（()）]{2,30})\s*[)）]", paras[-1])
        if tail and _byline_tokens(tail.group(1))[2]:
            reporters.extend(reporters_from_byline(tail.group(1)))
            paras.pop()
        elif _is_byline_line(paras[-1]):
            reporters.extend(reporters_from_byline(paras.pop()))
    return tuple(dict.fromkeys(reporters)), paras


# --------------------------------------------------------------------------- text & html

_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "tr",
        "table",
        "tbody",
        "section",
        "article",
        "blockquote",
        "dd",
        "dt",
        "dl",
        "pre",
        "figure",
        "figcaption",
        "center",
        "header",
        "footer",
        "td",
        "th",
        "hr",
    ]
)
_SKIP_TAGS = frozenset(("script", "style", "noscript", "template", "iframe", "select", "button"))
_SEP = "\u2029"
_CJK_GAP = re.compile(rf"(?<={_CJK})\s*\n\s*(?={_CJK})")


def _collapse(segment: str) -> str:
    # A source line break between two Chinese characters is layout, not a space.
    segment = _CJK_GAP.sub("", segment)
    segment = re.sub(r"[\s\u00a0\u3000]+", " ", segment)
    return segment.strip()


def _walk(el: etree._Element, parts: list[str]) -> None:
    tag = el.tag.lower() if isinstance(el.tag, str) else ""
    skip = not tag or tag in _SKIP_TAGS  # comments and processing instructions have no str tag
    block = tag in _BLOCK_TAGS
    if block:
        parts.append(_SEP)
    if el.text and not skip:
        parts.append(el.text)
    if not skip:
        for child in el:
            _walk(child, parts)
    if block:
        parts.append(_SEP)
    if el.tail:
        parts.append(el.tail)


def _fragment(html_text: str) -> etree._Element:
    return lxml.html.fragment_fromstring(html_text or "", create_parent="div")


def html_to_paragraphs(html_text: str) -> list[str]:
    """Plain paragraphs of an HTML fragment: one per block element or ``<br>``-separated line."""
    if not html_text or not html_text.strip():
        return []
    try:
        root = _fragment(html_text)
    except (etree.ParserError, ValueError):
        return []
    parts: list[str] = []
    _walk(root, parts)
    return [p for p in (_collapse(s) for s in "".join(parts).split(_SEP)) if p]


def sanitize_html(html_text: str, base_url: str | None = None) -> str:
    """Safe HTML for a feed: the project's one sanitiser (clean.sanitise_html), minus the
    empty wrappers that removed custom tags (founder-*, o:p) leave behind."""
    cleaned = sanitise_html(html_text or "", base_url=base_url)
    return re.sub(r"<(p|div|span)>(?:\s|&nbsp;|\u3000)*</\1>", "", cleaned).strip()


def drop_paragraphs(html_text: str, lines: list[str] | tuple[str, ...]) -> str:
    """`html_text` without the text-only blocks whose text is one of `lines` (e.g. a byline)."""
    if not lines or not html_text:
        return html_text
    wanted = set(lines)
    try:
        root = _fragment(html_text)
    except (etree.ParserError, ValueError):
        return html_text
    for el in list(root.iter("p", "div", "span", "td", "strong")):
        if el.getparent() is None or el.find(".//img") is not None:
            continue
        if _collapse(el.text_content()) in wanted:
            el.drop_tree()
    return lxml.html.tostring(root, encoding="unicode")


def node_text(node: LexborNode | None) -> str:
    """Text of one element with ``<br>`` read as a space and whitespace collapsed."""
    if node is None:
        return ""
    return " ".join(html_to_paragraphs(node.html or ""))


def first_text(
    tree: LexborHTMLParser | LexborNode, selectors: str | list[str] | tuple[str, ...]
) -> str:
    """Text of the first non-empty element matched by any of `selectors`, in order."""
    for sel in [selectors] if isinstance(selectors, str) else selectors:
        for node in tree.css(sel):
            text = node_text(node)
            if text:
                return text
    return ""


def meta_content(tree: LexborHTMLParser, *names: str) -> str:
    """Content of the first ``<meta name|property=…>`` among `names` (case-insensitive)."""
    wanted = [n.lower() for n in names]
    found: dict[str, str] = {}
    for node in tree.css("meta"):
        attrs = node.attributes
        key = (attrs.get("name") or attrs.get("property") or attrs.get("itemprop") or "").lower()
        if key in wanted and key not in found and (attrs.get("content") or "").strip():
            found[key] = htmllib.unescape(attrs["content"].strip())
    for name in wanted:
        if name in found:
            return found[name]
    return ""


def summarise(paragraphs: list[str], limit: int = 200) -> str:
    """A plain-text teaser: the first paragraph, cut at `limit` characters."""
    if not paragraphs:
        return ""
    first = paragraphs[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


# --------------------------------------------------------------------------- extraction

# Containers that, where present, hold exactly the story: the government CMS standard
# (#zoom, TRS editors), the Founder e-paper ones, and common article-body classes.
_BODY_SELECTORS = (
    "#zoom",
    "#Zoom",
    ".TRS_Editor",
    "#ozoom",
    "founder-content",
    "#articleContent",
    ".article-content",
    ".articleContent",
    ".article_content",
    "#js_content",
)
# Wider containers, tried only when trafilatura finds nothing.
_LOOSE_BODY_SELECTORS = ("article", "#content", ".content", "main")
_TITLE_SELECTORS = ("h1", ".article-title", ".title", "#title")
_SOURCE_LINE = re.compile(r"来源[:：]\s*([^\s|｜丨/]{2,30})")
_AUTHOR_LINE = re.compile(
    r"(?:作者|记者|撰稿)[:：]\s*([^\s|｜丨/]{2,20}(?:\s+[^\s|｜丨/:：]{2,4})*)"
)
_TIME_LINE = re.compile(
    r"(?:发布(?:时间|日期)|时间|日期|发表于)[:：]\s*([0-9年月日:：/.\- ]{8,22})"
)
_TITLE_SPLIT = re.compile(r"\s*(?:_|\||｜|--|—|-)\s*")


def _clean_doc_title(text: str) -> str:
    # "<title>Story headline_崇川区人民政府</title>": keep the longest piece, the story.
    parts = [p for p in _TITLE_SPLIT.split(text.strip()) if p]
    return max(parts, key=len) if parts else ""


def _stamp_near_body(header: str) -> datetime | None:
    """An unlabelled "2024-03-05 09:12" just above the text: the story's time stamp.

    Only a date *with* a time, and only close to the text, counts: the date alone in a
    page's top bar is usually today's date, not the story's.
    """
    for m in reversed(list(_FULL_DATE.finditer(header[-300:]))):
        if m.group(4) is not None:
            return parse_date(m.group(0))
    return None


def _densest(tree: LexborHTMLParser) -> str:
    """HTML of the element whose own ``<p>`` children hold the most text (over 20 chars)."""
    best, best_len = "", 20
    scores: dict[int, tuple[LexborNode, int]] = {}
    for p in tree.css("p"):
        parent = p.parent
        if parent is None:
            continue
        node, total = scores.get(parent.mem_id, (parent, 0))
        scores[parent.mem_id] = (node, total + len(node_text(p)))
    for node, total in scores.values():
        if total > best_len:
            best, best_len = node.html or "", total
    return best


def _container(
    tree: LexborHTMLParser, selectors: list[str] | tuple[str, ...], min_chars: int
) -> str:
    """HTML of the first element matched by `selectors` holding at least `min_chars` of text."""
    for sel in selectors:
        node = tree.css_first(sel)
        if node is not None and len(node_text(node)) >= min_chars:
            return node.html or ""
    return ""


def _pick_title(tree: LexborHTMLParser, t_title: str) -> str:
    """The headline: a candidate that the page's ``<title>`` repeats, else the likeliest one.

    Checking against ``<title>`` keeps a logo wrapped in ``<h1>`` (the site's name) or a
    sidebar heading from passing for the headline.
    """
    doc_node = tree.css_first("title")
    doc_title = doc_node.text() if doc_node is not None else ""
    site_names = {meta_content(tree, "SiteName")}
    parts = [p for p in _TITLE_SPLIT.split(doc_title.strip()) if p]
    if len(parts) > 1:
        site_names.add(parts[-1])
    candidates = [meta_content(tree, "ArticleTitle"), meta_content(tree, "og:title")]
    for sel in _TITLE_SELECTORS:
        candidates += [node_text(n) for n in tree.css(sel)]
    candidates = [c for c in [*candidates, t_title] if c and c not in site_names]
    squashed_doc = re.sub(r"\s+", "", doc_title)
    for candidate in candidates:
        if len(candidate) >= 4 and re.sub(r"\s+", "", candidate) in squashed_doc:
            return candidate
    return candidates[0] if candidates else _clean_doc_title(doc_title)


def _selectors(value: object) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]  # type: ignore[union-attr]


def _trafilatura(html_text: str, url: str) -> tuple[str, str, str, str]:
    """(html, title, author, date) of the main text as trafilatura sees it, or blanks."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html_text,
        url=url,
        output_format="python",
        include_comments=False,
        include_tables=True,
        include_images=True,
        with_metadata=True,
    )
    if doc is None:
        return "", "", "", ""
    body = ""
    tree = getattr(doc, "body", None)
    if tree is not None:
        body = etree.tostring(tree, encoding="unicode")
        # trafilatura's own element names (head, list, item, graphic, hi) map onto HTML ones.
        for old, new in (
            ("head", "h3"),
            ("list", "ul"),
            ("item", "li"),
            ("hi", "b"),
            ("row", "tr"),
            ("cell", "td"),
        ):
            body = re.sub(rf"<(/?){old}\b", rf"<\1{new}", body)
        body = re.sub(r"<graphic\b([^>]*)/?>", r"<img\1>", body)
        body = re.sub(r"<lb\s*/?>", "<br>", body)
        body = re.sub(r"</graphic>", "", body)
    return body, doc.title or "", doc.author or "", doc.date or ""


def _header_region(tree: LexborHTMLParser, body_html: str) -> str:
    """Plain text of the page around the body, where "来源：… 发布时间：…" lines sit."""
    node = tree.body
    text = node.text(separator=" ") if node is not None else ""
    paras = html_to_paragraphs(body_html)
    cut = text.find(paras[0][:20]) if paras else -1
    return text[:cut][-600:] if cut > 0 else text[:3000]


def extract_article(
    html_text: str,
    url: str,
    *,
    selectors: Mapping[str, object] | None = None,
    today: date | None = None,
) -> Entry:
    """One article page as an `Entry`; raises `ParseError` when no title and no text is found.

    `selectors` (from the source's ``[source.options.article]``) may give ``title``, ``body``,
    ``date``, ``author`` and ``source`` CSS selectors (each a string or a list tried in order);
    any left out is found by the conventions above.
    """
    selectors = selectors or {}
    tree = LexborHTMLParser(html_text)
    for junk in tree.css("script, style, noscript"):
        junk.decompose()

    title = first_text(tree, _selectors(selectors.get("title"))) if selectors.get("title") else ""
    t_title = t_author = t_date = ""
    body_html = _container(tree, _selectors(selectors.get("body")), 1)
    body_html = body_html or _container(tree, _BODY_SELECTORS, 20)
    if not body_html:
        body_html, t_title, t_author, t_date = _trafilatura(html_text, url)
        # On small pages trafilatura can fall back to "all text as one paragraph"; the
        # element holding the most paragraph text is the better guess then.
        dense = _densest(tree)
        if len(html_to_paragraphs(body_html)) <= 1 and len(html_to_paragraphs(dense)) > 1:
            body_html = dense
    body_html = body_html or _container(tree, _LOOSE_BODY_SELECTORS, 20)

    title = title or _pick_title(tree, t_title)
    paragraphs = html_to_paragraphs(body_html)
    if paragraphs and title and paragraphs[0] == title:
        paragraphs = paragraphs[1:]  # trafilatura sometimes keeps the headline as line one
    reporters, kept = split_byline(strip_trailer(paragraphs))
    body_html = drop_paragraphs(body_html, [p for p in paragraphs if p not in kept])
    paragraphs = kept
    if not title and not paragraphs:
        raise ParseError(f"no article found at {url}: no title and no text")
    doc_title = tree.css_first("title")
    title = unbreak_title(
        title, doc_title.text() if doc_title else "", meta_content(tree, "og:title")
    )

    header = _header_region(tree, body_html)
    published = None
    if selectors.get("date"):
        published = parse_date(first_text(tree, _selectors(selectors["date"])), today=today)
    published = (
        published
        or parse_date(
            meta_content(tree, "PubDate", "article:published_time", "publishdate", "pubdate")
        )
        or parse_date(m.group(1) if (m := _TIME_LINE.search(header)) else None, today=today)
        or _stamp_near_body(header)
        or parse_date(t_date)
        or (day_start(d) if (d := date_from_url(url)) else None)
    )

    author_text = (
        first_text(tree, _selectors(selectors.get("author"))) if selectors.get("author") else ""
    )
    author_text = author_text or meta_content(tree, "Author", "author", "article:author")
    if not author_text and (m := _AUTHOR_LINE.search(header)):
        author_text = m.group(1)
    reporters = tuple(dict.fromkeys(reporters + reporters_from_byline(author_text)))
    author = "、".join(reporters) if reporters else (author_text or t_author or None)

    outlet_name = (
        first_text(tree, _selectors(selectors.get("source"))) if selectors.get("source") else ""
    )
    outlet_name = outlet_name or meta_content(tree, "ContentSource")
    if not outlet_name and (m := _SOURCE_LINE.search(header)):
        outlet_name = m.group(1)
    outlet_name = re.sub(r"^来源[:：]\s*", "", outlet_name).strip()

    content_html = sanitize_html(body_html, url)
    has_image = "<img" in content_html
    return Entry(
        key=url,
        title=title,
        url=url,
        author=author,
        published=published,
        summary=summarise(paragraphs),
        content_html=content_html,
        text="\n\n".join(paragraphs),
        reporters=reporters,
        type=PHOTO if has_image and sum(map(len, paragraphs)) < 80 else ARTICLE,
        outlet_name=outlet_name or None,
    )


__all__ = [
    "CHINA_TZ",
    "date_from_url",
    "day_start",
    "decode_html",
    "drop_paragraphs",
    "extract_article",
    "html_to_paragraphs",
    "parse_date",
    "reporters_from_byline",
    "sanitize_html",
    "split_byline",
    "strip_trailer",
    "unbreak_title",
]
