"""Split the plain text of an e-paper page (数字报版面) into its articles and captioned photos.

Most local outlets publish no feed: their news is a page of several articles, copied out as text
in which every headline, paragraph, byline and caption is a block between blank lines, and in
which column and page breaks cut paragraphs (even words) in two. The split rests on two ideas:

1. Classify each line by its own shape first (byline lead `本报讯(记者 X)`, signature `·X·`,
   photo credit `X 摄`, section label, short unpunctuated heading, body text), then fix the
   shapes that lie: a "heading" that ends in a function word or is followed by `的…` is the first
   half of a cut paragraph, and a paragraph that does not end a sentence is joined to the next.
2. Decide article boundaries from the page's own conventions: on a page whose articles close
   with a signature, or open with a lead, a lone heading without them is an in-article subhead;
   two or more headline lines, a lead after a heading, or a closed article always start a new one.

Everything here is a pure function of the text (and the issue date the caller passes in).
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from .bylines import BULLETS, CJK, byline, photo_credit, split_lead, trailing_byline
from .dates import at_midnight
from .model import ARTICLE, PHOTO, Entry

__all__ = ["finished", "split_page"]

SUMMARY_CHARS = 120

_SENTENCE_END = set("。！？!?…；;：:.")
_CLOSERS = set("”’」』）)】》\"'")
_OPENERS = set("“‘「『（(【《")
# a heading never ends in these; a paragraph cut by a column break often does
_FUNCTION_END = set(
    "的着与及或在是要对把将从向就也而并以之其这该被让使给于由但还又再更很不没应需须各每如若即则且个"
    "既虽因凡仍乃已曾才刚便"
)
# a paragraph never starts with these; a block that does continues the one before it
_NON_INITIAL = set("，,。、；;：:）)”’」』》】的了地得着们么吗呢吧%％")
_JUMP = re.compile(
    r"[(（〔\[]?\s*(?:(?:下|上|紧)?(?:转|接)|(?:详|全文|相关报道)?见)\s*(?:第\s*)?"
    r"[A-Za-z]?\s*[0-9０-９]{1,3}\s*版"
    r"(?:\s*[A-Za-z]?[0-9０-９]*)?\s*[)）〕\]]?"
)
_END_MARK = re.compile(r"[(（]\s*(?:完|全文完|本文完|待续|未完待续)\s*[)）]$")
_BOILERPLATE = re.compile(
    r"^(?:(?:责任编辑|责编|编辑|美编|校对|版式|组版|审读|审校|终审|值班主任|版面设计|排版|主编"
    r"|本版编辑|本版责编|一审|二审|三审|制作)\s*[:：]"
    r"|第?\s*[A-Za-z]?[0-9０-９]{1,3}\s*版(?:\s*[:：].{0,12})?$"
    r"|[A-Za-z]?[0-9]{1,3}$"
    r"|[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日\s*(?:(?:星期|周)[一二三四五六日天])?\s*(?:农历\S*)?"
    r"\s*(?:第?\s*[A-Za-z]?[0-9]{1,3}\s*版.*)?$"
    r"|(?:(?:上一版|下一版|上一篇|下一篇|返回目录|版面导航|放大|缩小|默认|打印|关闭|PDF下载)\s*)+$"
    r")"
)
_NOTE = re.compile(
    r"^[(（]?(?:本栏|本版|本组|本期|以上|上|下|左|右)?(?:照片|图片|图)(?:均|由)"
    r"|^[(（]?(?:图片|照片)(?:由|来源)|^(?:制图|图表|漫画)\s*[:：]"
)
_SECTION = re.compile(
    rf"^[{CJK}]{{0,4}}(?:快报|快讯|简讯|短讯|速递|短波|传真|扫描|播报|集锦|视窗|资讯|要闻|导读"
    r"|看点|一览|掠影|万象|图说|图片新闻|视觉新闻|图片报道|新闻|动态)$"
)
_UNIT = re.compile(
    rf"^[{CJK}]{{1,12}}(?:区|县|市|镇|乡|街道|办事处|村|社区|局|分局|委|办|院|所|中心|公司|集团"
    r"|站|队|处|部|厅|委员会|党工委|管委会|园区|开发区|学校|医院|支行|分行|工会|团委|妇联|协会)$"
)
_ORDINAL = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.．]|[(（][一二三四五六七八九十0-9]+[)）]|[0-9]+[、.．]|第[一二三四五六七八九十]+)"
)
_CAPTION_START = re.compile(r"^(?:[▲▼◀▶△▽←→↑↓]|(?:左上|右上|左下|右下|上|下|左|右)?图[为：:])")
# how captions usually open: `3月5日，在…`, `图为…`, `位于…`
_CAPTION_OPENING = re.compile(r"^(?:[0-9０-９]{1,2}月[0-9０-９]{1,2}日[，,]|图为|位于)")


# --- text shape --------------------------------------------------------------------------------


def finished(text: str) -> bool:
    """Whether a paragraph ends a sentence (so a break after it is a real paragraph break)."""
    text = text.rstrip()
    closed = text.rstrip("".join(_CLOSERS))
    if not closed:
        return False
    if closed is not text and closed[-1] not in _SENTENCE_END:
        return False  # `…“四季歌”` stops inside a sentence
    return closed[-1] in _SENTENCE_END


def _balanced(text: str) -> bool:
    pairs = ("“”", "《》", "()", "（）", "「」", "【】")
    return all(text.count(a) == text.count(b) for a, b in pairs)


def _heading_like(text: str) -> bool:
    """Short, unpunctuated, balanced: the shape of a headline, kicker, subhead or label."""
    compact = re.sub(r"\s", "", text)
    limit = 50 if compact.endswith(("——", "—")) else 40
    if not 2 <= len(compact) <= limit or "。" in compact or not _balanced(compact):
        return False
    if compact[-1] in ",，、；;：:" or compact[-1] in _OPENERS:
        return False
    commas = len(re.findall("[,，]", compact))
    if not compact.endswith("—") and (commas > 1 or (commas and len(compact) > 26)):
        return False  # clauses strung together: a sentence, not a headline
    if finished(compact):
        # a headline may ask or exclaim, a body sentence rarely stands alone that short
        return compact[-1] in "？！?!" and len(compact) <= 30 and not re.search("[,，]", compact)
    return not re.search(r"[?？!！]", compact[:-1])


def _fragment(text: str, following: str | None) -> bool:
    """A heading-shaped line that is really the first half of a paragraph cut by a break."""
    compact = re.sub(r"\s", "", text)
    if following and following[0] in _NON_INITIAL:
        return True
    if compact[-1] in _FUNCTION_END:
        return True
    return compact[-1] == "了" and bool(re.search("[,，]", compact))


def _join(a: str, b: str) -> str:
    """Glue the halves of a cut paragraph; a space only between two Latin words."""
    if a[-1:].isascii() and a[-1:].isalpha() and b[:1].isascii() and b[:1].isalpha():
        return f"{a} {b}"
    return a + b


# --- lines -------------------------------------------------------------------------------------


@dataclass
class _Line:
    text: str
    gap: int  # blank lines before it; 0 = same block as the line before
    kind: str = "body"  # body head lead byline caption credit section note phototitle
    people: tuple[str, ...] = ()
    rest: str = ""  # lead: the paragraph after the byline; caption: the caption
    jump: bool = False  # a `(下转第2版)` marker was removed from it
    resume: bool = False  # it goes on with an article begun on another page (`上接第1版`)


def _lines(text: str) -> list[_Line]:
    text = re.sub(r"[\u200b\u200c\u200d\ufeff]", "", text.replace("\r\n", "\n").replace("\r", "\n"))
    out: list[_Line] = []
    gap, resume = 0, False
    for raw in text.split("\n"):
        line = re.sub(r"[ \t\u3000\xa0]+", " ", raw).strip()
        line = _END_MARK.sub("", line).strip()
        # `下转第2版` sends the text on to another page; `上接…` and `详见…` only point
        markers = [m.group(0) for m in _JUMP.finditer(line)]
        jumped = any("转" in m for m in markers)
        resume = resume or any("上接" in m for m in markers)
        line = _JUMP.sub("", line).strip()
        if jumped and not line and out:
            out[-1].jump = True
        if not line:
            gap += 1
            continue
        out.append(_Line(line, gap if out else 0, jump=jumped, resume=resume))
        gap, resume = 0, False
    return out


def _classify(line: _Line) -> None:
    text = line.text
    if _BOILERPLATE.match(text):
        line.kind = "skip"
    elif _NOTE.match(text) and len(text) <= 40:
        line.kind = "note"
    elif _SECTION.match(text.strip("【】〔〕[] ")) and len(text.strip("【】〔〕[] ")) <= 6:
        line.kind, line.rest = "section", text.strip("【】〔〕[] ")
    elif (credit := photo_credit(text)) is not None:
        line.rest, line.people = credit
        line.kind = "caption" if line.rest else "credit"
    elif (people := byline(text)) is not None:
        line.kind, line.people = "byline", people
    elif (lead := split_lead(text)) is not None:
        line.kind, line.people, line.rest = "lead", lead[0], lead[1]
    elif _CAPTION_START.match(text) and finished(text):
        line.kind, line.rest = "caption", text.lstrip(BULLETS + " ")
    elif _heading_like(text):
        line.kind = "head"
    else:
        line.kind = "body"


def _prepare(text: str) -> list[_Line]:
    """Classified lines: heading fragments turned back into body, photos bound to captions."""
    lines = _lines(text)
    # blank lines mark blocks on most pages; some copy one paragraph per line and none
    blank_mode = sum(1 for ln in lines[1:] if ln.gap) >= (len(lines) - 1) / 2
    for line in lines:
        _classify(line)
    for i, line in enumerate(lines):
        if line.kind == "head":
            following = next((ln.text for ln in lines[i + 1 :] if ln.kind != "skip"), None)
            previous = lines[i - 1] if i else None
            wrapped = (
                line.gap == 0
                and previous is not None
                and previous.kind == "body"
                and not previous.jump
                and not finished(previous.text)
            )
            if wrapped or _fragment(line.text, following):
                line.kind = "body"
    lines = [ln for ln in lines if ln.kind != "skip"]
    _merge_wrapped_heads(lines, blank_mode)
    _bind_captions(lines, blank_mode)
    return lines


def _merge_wrapped_heads(lines: list[_Line], blank_mode: bool) -> None:
    """`春耕` + `正当时` in one block is one headline broken by the layout."""
    i = 1
    while i < len(lines):
        a, b = lines[i - 1], lines[i]
        short = len(a.text) <= 10 and len(b.text) <= 10
        if (
            blank_mode
            and b.gap == 0
            and a.kind == b.kind == "head"
            and short
            and not _UNIT.match(a.text)
            and not a.text.endswith(("——", "：", ":"))
        ):
            a.text += b.text
            del lines[i]
        else:
            i += 1


def _bind_captions(lines: list[_Line], blank_mode: bool) -> None:
    """A credit alone (`陆远 徐小卉 摄`) takes the block before it as its caption, and a
    heading straight before a caption is the photo's title, not an article's."""
    typical_gap = 1 if blank_mode else 0
    for i, line in enumerate(lines):
        if line.kind != "credit" or i == 0:
            continue
        body = lines[i - 1]
        if body.kind == "caption" and not body.people:  # `▲…` caption, credit on the next line
            body.people, line.kind = line.people, "skip"
            continue
        if body.kind != "body":
            continue
        before = lines[i - 2] if i >= 2 else None
        if (
            (blank_mode and line.gap == 0)
            or before is None
            or before.kind in ("head", "byline", "caption", "credit", "section", "note")
            or body.gap > typical_gap
            or body.text[0] in BULLETS
            or (len(body.text) <= 200 and _CAPTION_OPENING.match(body.text))
        ):
            body.kind, body.rest, body.people = (
                "caption",
                body.text.lstrip(BULLETS + " "),
                line.people,
            )
            line.kind = "skip"
    lines[:] = [ln for ln in lines if ln.kind != "skip"]
    for i, line in enumerate(lines):
        if line.kind != "head":
            continue
        j = i
        while j + 1 < len(lines) and lines[j + 1].kind == "head":
            j += 1
        k = j + 1
        while k < len(lines) and lines[k].kind in ("caption", "credit"):
            k += 1
        after_photos = lines[k].kind if k < len(lines) else None
        if k > j + 1 and after_photos in (None, "head", "section", "note", "byline"):
            for ln in lines[i : j + 1]:
                ln.kind = "phototitle"


# --- assembly ----------------------------------------------------------------------------------


@dataclass
class _Article:
    lines: list[str]  # headline lines, top to bottom
    position: int
    section: str | None
    people: tuple[str, ...] = ()
    paras: list[tuple[str, bool]] = field(default_factory=list)  # (text, is_subhead)
    had_lead: bool = False
    closed: bool = False
    jumped: bool = False
    untitled: bool = False

    def add(self, text: str) -> None:
        if self.paras and not self.paras[-1][1] and not finished(self.paras[-1][0]):
            self.paras[-1] = (_join(self.paras[-1][0], text), False)
        else:
            self.paras.append((text, False))

    @property
    def dangling(self) -> bool:
        """Its text stops mid-sentence: cut by a column break or the page edge."""
        return bool(self.paras) and not self.paras[-1][1] and not finished(self.paras[-1][0])


@dataclass
class _Photo:
    title: str | None
    caption: str
    people: tuple[str, ...]
    position: int
    section: str | None


def _headline_lines(heads: list[_Line]) -> list[str]:
    out: list[str] = []
    for line in heads:
        text = line.text.lstrip(BULLETS + " ")
        m = re.match(r"^(.+?——)\s+(.+)$", text) or re.match(r"^(.+?)\s+(——.+)$", text)
        out.extend([m.group(1), m.group(2)] if m else [text])
    return out


def _assemble(lines: list[_Line]) -> list[_Article | _Photo]:
    items: list[_Article | _Photo] = []
    page_leads = any(ln.kind == "lead" for ln in lines)
    page_signs = any(
        ln.kind == "byline" or (ln.kind == "body" and trailing_byline(ln.text)) for ln in lines
    )
    cur: _Article | None = None
    section: str | None = None
    photo_title: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        kind = line.kind
        if line.resume:
            cur = None  # text from another page: not part of the article above
        if kind == "section":
            section, cur = line.rest, None
        elif kind == "phototitle":
            photo_title = " ".join(filter(None, [photo_title, line.text]))
        elif kind in ("caption", "credit"):
            items.append(_Photo(photo_title, line.rest, line.people, len(items) + 1, section))
            photo_title = None
        elif kind == "head":
            j = i
            while j + 1 < len(lines) and lines[j + 1].kind == "head":
                j += 1
            heads = _headline_lines(lines[i : j + 1])
            following = lines[j + 1] if j + 1 < len(lines) else None
            after_photo = i > 0 and lines[i - 1].kind in ("caption", "credit")
            if cur and not cur.closed and not cur.paras:
                cur.lines.extend(heads)  # e.g. a subtitle set apart by a byline line
            elif after_photo or _starts_article(cur, heads, following, page_leads, page_signs):
                cur = _Article(heads, len(items) + 1, section)
                items.append(cur)
            elif cur:
                cur.paras.extend((h, True) for h in heads)
            i = j
        elif kind == "lead":
            if cur is None or cur.closed or cur.paras:
                cur = _untitled(line.rest, len(items) + 1, section)
                items.append(cur)
            cur.people, cur.had_lead = line.people, True
            if line.rest:
                cur.add(line.rest)
                _close_on_trailing_byline(cur)
        elif kind == "byline":
            if cur is not None and not cur.closed:
                cur.people = cur.people or line.people
                cur.closed = bool(cur.paras)
        elif kind == "body":
            if cur is None or cur.closed:
                cur = _untitled(line.text, len(items) + 1, section)
                items.append(cur)
            cur.add(line.text)
            _close_on_trailing_byline(cur)
        if line.jump and isinstance(cur, _Article) and cur.paras:
            cur.jumped = cur.closed = True  # `（下转第2版）`: the rest is on another page
        i += 1
    return _split_lone_subheads(items)


def _split_lone_subheads(items: list[_Article | _Photo]) -> list[_Article | _Photo]:
    """An article with a single subhead is two articles, the first without its signature.

    Subheads come in series (three 小标题 in a long piece); one alone is almost always the
    title of the next article, read as a subhead because the article above it lacked the
    signature or lead the rest of the page has.
    """
    out: list[_Article | _Photo] = []
    for item in items:
        if not isinstance(item, _Article):
            out.append(item)
            continue
        subheads = [k for k, (_, sub) in enumerate(item.paras) if sub]
        k = subheads[0] if len(subheads) == 1 else 0
        if not 0 < k < len(item.paras) - 1 or _ORDINAL.match(item.paras[k][0]):
            out.append(item)
            continue
        # a lead's names belong to the first article, a closing signature's to the second
        lead_people, closing_people = (item.people, ()) if item.had_lead else ((), item.people)
        out.append(replace(item, paras=item.paras[:k], people=lead_people, jumped=False))
        out.append(
            replace(
                item,
                lines=[item.paras[k][0]],
                paras=item.paras[k + 1 :],
                people=closing_people,
                had_lead=False,
                untitled=False,
            )
        )
    return out


def _close_on_trailing_byline(art: _Article) -> None:
    """`…获得感。（记者 张三）` ends the article as a signature line would."""
    tail = trailing_byline(art.paras[-1][0])
    if tail:
        art.paras[-1] = (tail[0], False)
        art.people = art.people or tail[1]
        art.closed = True


def _starts_article(
    cur: _Article | None,
    heads: list[str],
    following: _Line | None,
    page_leads: bool,
    page_signs: bool,
) -> bool:
    """A new article, or a subhead inside the current one?"""
    if cur is None or cur.closed or len(heads) > 1:
        return True
    if following is not None and following.kind in ("lead", "byline"):
        return True
    if cur.dangling:
        return True  # the article before was cut off (or jumps to another page)
    if cur.had_lead or page_leads or page_signs:
        return False  # its own article would open with a lead or the last would have closed
    return not (_ORDINAL.match(heads[0]) or len(re.sub(r"\s", "", heads[0])) <= 12)


def _untitled(text: str, position: int, section: str | None) -> _Article:
    """An article whose headline is not on this page (`（上接第1版）`): title from its text."""
    return _Article([_first_sentence(text)], position, section, untitled=True)


def _first_sentence(text: str) -> str:
    first = re.split(r"(?<=[。！？!?])", text, maxsplit=1)[0]
    return first if len(first) <= 40 else first[:30] + "…"


# --- entries -----------------------------------------------------------------------------------


def _key(*parts: str | None) -> str:
    """Identity from what the item says, never where it sits, so a re-split page updates."""
    basis = "|".join(re.sub(r"\s", "", p or "") for p in parts)
    return "epaper:" + hashlib.sha1(basis.encode("utf-8")).hexdigest()[:16]


def _summary(paragraphs: list[str]) -> str:
    text = "".join(paragraphs)
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS].rstrip() + "…"


def _roles(lines: list[str]) -> tuple[str | None, str, str | None]:
    """(kicker, title, subtitle) from headline lines, top to bottom.

    Text alone cannot tell kicker + title from title + subtitle; the cues used are the kicker's
    trailing dash or colon, a unit label on top (`示范区`), a subtitle's leading dash, and
    otherwise the main title being the shorter, punchier line.
    """
    if len(lines) == 1:
        return None, lines[0], None
    if len(lines) >= 3:
        return lines[0], lines[1], " ".join(lines[2:])
    first, second = lines
    if second.startswith("—"):
        return None, first, second
    if first.endswith(("——", "—", "：", ":")) or _UNIT.match(first):
        return first, second, None
    if len(re.sub(r"\s", "", first)) > len(re.sub(r"\s", "", second)):
        return first, second, None
    return None, first, second


def _article_entry(art: _Article, published: datetime | None, seen: set[str]) -> Entry:
    kicker, title, subtitle = _roles(art.lines) if not art.untitled else (None, art.lines[0], None)
    paras = list(art.paras)
    if not title.strip():
        # a block with no headline line left (e.g. only a lead): name it by its first words
        title = next((p[:30] for p, _ in paras if p.strip()), "") or "（无标题）"
    if paras and paras[-1][1]:
        # nothing follows it: not a subhead but the last, cut-off line of the text
        paras[-1] = (paras[-1][0], False)
    people = art.people
    if paras and not paras[-1][1] and (tail := trailing_byline(paras[-1][0])):
        paras[-1] = (tail[0], False)
        people = people or tail[1]
    truncated = art.jumped or not paras or not finished(paras[-1][0])
    body = [p for p, sub in paras if not sub]
    content = "\n".join(
        f"<h3>{html.escape(p)}</h3>" if sub else f"<p>{html.escape(p)}</p>" for p, sub in paras
    )
    # the issue date keeps a recurring headline (a weekly column) apart from last week's
    issue = published.date().isoformat() if published else None
    key = _unique(_key(kicker, title, subtitle, issue), seen)
    return Entry(
        key=key,
        title=title,
        kicker=kicker,
        subtitle=subtitle,
        reporters=people,
        author=" ".join(people) or None,
        text="\n\n".join(p for p, _ in paras),
        content_html=content,
        summary=_summary(body),
        position=art.position,
        type=ARTICLE,
        published=published,
        categories=(art.section,) if art.section else (),
        truncated=bool(truncated),
    )


def _photo_entry(photo: _Photo, published: datetime | None, seen: set[str]) -> Entry:
    caption = photo.caption
    issue = published.date().isoformat() if published else None
    if photo.title:
        title = photo.title
    elif caption:
        title = _first_sentence(caption)
    else:
        title = "图片：" + " ".join(photo.people)
    return Entry(
        key=_unique(_key("photo", photo.title, caption, " ".join(photo.people), issue), seen),
        title=title,
        reporters=photo.people,
        author=" ".join(photo.people) or None,
        text=caption,
        content_html=f"<p>{html.escape(caption)}</p>" if caption else "",
        summary=_summary([caption]),
        position=photo.position,
        type=PHOTO,
        published=published,
        categories=(photo.section,) if photo.section else (),
    )


def _unique(key: str, seen: set[str]) -> str:
    """The same headline twice on one page (rare) still gives two stable keys."""
    n, candidate = 1, key
    while candidate in seen:
        n += 1
        candidate = f"{key}-{n}"
    seen.add(candidate)
    return candidate


def split_page(text: str, *, issue_date: date | None = None) -> tuple[Entry, ...]:
    """The articles and captioned photos of one e-paper page, in page order (position from 1).

    `text` is the page as plain text, blocks separated by blank lines (or one per line).
    Articles keep kicker, title, subtitle, reporters and body paragraphs (subheads kept as
    their own paragraphs, rendered as <h3>); photos become PHOTO entries with the caption as
    text and the credited photographers as reporters. Keys hash the headline (and the issue
    date when given), not the position, so ingesting the same page again updates rather than
    duplicates.
    """
    lines = _prepare(text)
    published = at_midnight(issue_date) if issue_date else None
    seen: set[str] = set()
    out: list[Entry] = []
    for item in _assemble(lines):
        if isinstance(item, _Photo):
            out.append(_photo_entry(item, published, seen))
        elif item.paras or not item.untitled:
            out.append(_article_entry(item, published, seen))
    return tuple(_renumber(out))


def _renumber(entries: list[Entry]) -> list[Entry]:
    """Positions count what was kept: dropped blocks leave no holes."""
    return [e if e.position == i else replace(e, position=i) for i, e in enumerate(entries, 1)]
