"""Split the plain text of an e-paper page (数字报版面) into its articles and captioned photos.

Most local outlets publish no feed: their news is a page of several articles, copied out as text
in which every headline, paragraph, byline and caption is a block between blank lines (or a line
of its own, or even one visual line of a narrow column), and in which column and page breaks cut
paragraphs (even words) in two. The split rests on three ideas:

1. Mend the layout before reading it: a line that fills the page's column width and does not end
   a sentence goes on in the next line (text copied from a PDF), a paragraph that does not end a
   sentence goes on in the next block, and the page's furniture (editors, page headers, jump
   markers such as `下转第二版`) is dropped.
2. Classify each line by its own shape (byline lead `本报讯(记者 X)`, signature `·X·`, photo
   credit `X 摄`, section or column label, table row, short unpunctuated heading, body text),
   then fix the shapes that lie: a "heading" that ends in a function word, that is indented like
   the body, or that names a box (`相关链接`) is a paragraph or an in-article subhead.
3. Decide article boundaries from the page's own conventions: on a page whose articles close
   with a signature, or open with a lead, a lone heading without them is an in-article subhead;
   two or more headline lines, a lead after a heading, a bullet, or a closed article always start
   a new one. In-article subheads come in parallel series (`织密网格，…` `多方联动，…`), so a lone
   heading, or one unlike the series that follows it, is the next article's title.

Everything here is a pure function of the text (and the issue date the caller passes in).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from .bylines import BULLETS, CJK, byline, parse_people, photo_credit, split_lead, trailing_byline
from .dates import at_midnight
from .model import ARTICLE, PHOTO, Entry

__all__ = ["finished", "split_page"]

SUMMARY_CHARS = 120
TITLE_CHARS = 40  # an untitled item is named by its first sentence, or clauses up to this long

_SENTENCE_END = set("。！？!?…；;：:.")
_CLOSERS = set("”’」』）)】》\"'")
_OPENERS = set("“‘「『（(【《")
# a heading never ends in these; a paragraph cut by a column break often does
_FUNCTION_END = set(
    "的着与及或在是要对把将从向就也而并以之其这该被让使给于由但还又再更很不没应需须各每如若即则且个"
    "既虽因凡仍乃已曾刚"  # not 才 or 便: `人才`, `方便` end headlines
)
# a paragraph never starts with these; a block that does continues the one before it
_NON_INITIAL = set("，,。、；;：:）)”’」』》】的了地得着们么吗呢吧%％")
_NUMERAL = r"(?:[0-9０-９]{1,3}|[一二三四五六七八九十]{1,3})"
_JUMP = re.compile(
    r"[(（〔\[]?\s*(?:(?:下|上|紧)?(?:转|接)|(?:详|全文|相关报道)?见)\s*(?:第\s*)?"
    rf"[A-Za-z]?\s*{_NUMERAL}\s*版"
    r"(?:\s*[A-Za-z]?[0-9０-９]*)?\s*[)）〕\]]?"
)
_END_MARK = re.compile(r"[(（]\s*(?:完|全文完|本文完|待续|未完待续)\s*[)）]$")
_EDITOR = (
    r"(?:责任编辑|责编|编辑|美编|美术编辑|校对|版式|版式设计|组版|审读|审校|审核|终审|值班主任"
    r"|值班编委|版面设计|排版|主编|本版编辑|本版责编|一审|二审|三审|制作|照排|视觉设计|设计)"
)
_BOILERPLATE = re.compile(
    rf"^(?:{_EDITOR}\s*[:：]"
    rf"|(?:{_EDITOR}(?:\s*[:：]\s*|\s+)[{CJK}·]{{1,4}}(?:\s[{CJK}])?\s*)+$"
    rf"|(?:第\s*[A-Za-z]?{_NUMERAL}|[A-Za-z]?[0-9０-９]{{1,3}})\s*版(?:\s*[:：]?.{{0,12}})?$"
    r"|[A-Za-z]?[0-9]{1,3}$"
    r"|[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日\s*(?:(?:星期|周)[一二三四五六日天])?\s*(?:农历\S*)?"
    r"\s*(?:第?\s*[A-Za-z]?[0-9]{1,3}\s*版.*)?$"
    r"|[0-9]{4}[.\-/][0-9]{1,2}[.\-/][0-9]{1,2}\s*(?:(?:星期|周)[一二三四五六日天])?$"
    r"|(?:(?:首页|上一期|下一期|往期回顾|往期|上一版|下一版|上一篇|下一篇|返回目录|返回|标题导航"
    r"|本版标题导航|版面导航|放大|缩小|默认|打印|关闭|PDF下载|PDF版|在线投稿|订阅)[\s|｜/]*)+$"
    r"|[A-Z]{2,}(?:[ .&'’-]+[A-Z]{2,})+$"  # the paper's name in Latin letters
    r"|(?:https?://|www\.)\S+$"
    rf"|[{CJK}]{{0,6}}(?:热线|电话|邮箱|传真)\s*[:：]?\s*[0-9A-Za-z@.\-—\s]{{6,}}$"
    r")"
)
# a page number over its section's name: `A02 要闻`, `第3版：要闻`
_PAGE_LABEL = re.compile(
    rf"^(?:第\s*[A-Za-z]?{_NUMERAL}\s*版|[A-Za-z]?[0-9０-９]{{1,3}}\s*版?)\s*[:：]?\s*([{CJK}]{{2,6}})$"
)
# the parts of a page header: a page number, an issue date, an editor
_HEADER_PARTS = (
    re.compile(rf"第\s*[A-Za-z]?{_NUMERAL}\s*版|^[A-Za-z]?[0-9]{{1,2}}(?=\s)|[0-9]{{1,2}}\s*版"),
    re.compile(
        r"[0-9]{4}\s*年\s*[0-9]{1,2}\s*月\s*[0-9]{1,2}\s*日|[0-9]{4}[.\-/][0-9]{1,2}[.\-/][0-9]{1,2}"
    ),
    re.compile(rf"{_EDITOR}\s*[:：]"),
)
_NOTE = re.compile(
    r"^[(（]?(?:本栏|本版|本组|本期|以上|上|下|左|右)?(?:照片|图片|图)(?:均|由)"
    r"|^[(（]?(?:图片|照片)(?:由|来源)|^(?:制图|图表|漫画)\s*[:：]"
)
_GROUP_CREDIT = re.compile(r"(?:均|由|为)+\s*(.+?)\s*(?:拍摄|摄影?)\s*[)）]?$")
_SECTION = re.compile(
    rf"^[{CJK}]{{0,4}}(?:快报|快讯|简讯|短讯|速递|短波|传真|扫描|播报|集锦|视窗|资讯|要闻|导读"
    r"|看点|一览|掠影|万象|图说|图片新闻|视觉新闻|图片报道|新闻|动态|评论|时评|言论|观点)$"
)
# `·城事·` over a page is a section label, not a signature: the words pages are divided by
_LABEL = re.compile(
    r"^(?:综合|要闻|城事|社会|民生|财经|经济|体育|文体|文娱|娱乐|国内|国际|时评|评论|言论|热点|关注"
    r"|聚焦|特稿|专题|本地|法治|教育|健康|科技|文化|副刊|县域|区县|乡村|三农|视点|观察|声音|视觉|调查"
    r"|深度|人物|时政|政务|党建|生活|消费|旅游|互动|服务|综述)$"
)
# a column name in brackets over one article: `【今日快评】`
_COLUMN = re.compile(rf"^[【〔［\[]\s*([{CJK}A-Za-z0-9·“”\s]{{2,12}})\s*[】〕］\]]$")
# boxes inside an article: never the next article's title
_BOX = re.compile(
    r"^(?:相关链接|新闻链接|背景链接|知识链接|链接|延伸阅读|小贴士|温馨提示|记者手记|采访手记|编后|编后语"
    r"|数读|名词解释|专家提醒|专家解读|相关新闻|背景资料|新闻背景|记者观察)$"
)
# genre labels over a title are its kicker: `短评` / `小切口撬动大民生`
_GENRE = re.compile(
    r"^(?:短评|快评|时评|评论|述评|社论|编辑部文章|特写|通讯|侧记|访谈|专访|综述|调查)$"
)
# a speaker's turn in an interview (`问：…？`) is a paragraph, however short
_SPEAKER = re.compile(r"^(?:问|答|记者|主持人|[QA])\s*[:：]")
# so is an attribution (`来源：金河晚报`)
_ATTRIBUTION = re.compile(r"^(?:来源|稿件来源|文章来源|稿源|转自|摘自)\s*[:：]")
# a story's source opening its first paragraph: `央视网消息（新闻联播）：`
_SOURCE = re.compile(rf"^[{CJK}]{{2,8}}(?:消息|讯|电)\s*(?:[(（][^()（）]{{1,12}}[)）])?\s*[:：]")
# how the first paragraph of a news story opens: a date, `近日`, a source
_NEWS_OPENING = re.compile(
    r"^(?:[0-9０-９]{1,2}月[0-9０-９]{1,2}日|[0-9０-９]{4}年[0-9０-９]{1,2}月[0-9０-９]{1,2}日"
    rf"|近日|日前|昨天|昨日|前天|记者(?:从|日前|近日|获悉))|{_SOURCE.pattern}"
)
_EDITORS_NOTE = re.compile(r"^(?:编者按|编者的话|编前|编者)\s*[:：]")
# lines that open as only paragraphs do, however short: they are never headings
_PARAGRAPH_OPENING = re.compile(
    "|".join(f"(?:{r.pattern})" for r in (_SPEAKER, _ATTRIBUTION, _EDITORS_NOTE, _SOURCE))
)
_UNIT = re.compile(
    rf"^[{CJK}]{{1,12}}(?:区|县|市|镇|乡|街道|办事处|村|社区|局|分局|委|办|院|所|中心|公司|集团"
    r"|站|队|处|部|厅|委员会|党工委|管委会|园区|开发区|学校|医院|支行|分行|工会|团委|妇联|协会)$"
)
# a place's name over a title is its kicker even where every headline is broken (`石桥镇`)
_PLACE = re.compile(
    rf"^[{CJK}]{{1,10}}(?:区|县|市|镇|乡|街道|办事处|村|社区|园区|开发区|示范区|新区|高新区)$"
)
_ORDINAL = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.．]|[(（][一二三四五六七八九十0-9]+[)）]|[0-9]+[、.．]"
    r"|第[一二三四五六七八九十]+(?:[、，,：:]|是|部分|章|篇|节|条|步|站|课|阶段|板块)"
    r"|[一二三四五六七八九十]是)"
)
_CAPTION_START = re.compile(
    r"^(?:[▲▼◀▶△▽←→↑↓]|(?:左上|右上|左下|右下|上|下|左|右)?图[为：:]"
    r"|图\s*[①-⑳0-9一二三四五六七八九十]{1,2}\s*[:：为]?)"
)
# how captions usually open: `3月5日，在…`, `图为…`, `位于…`
_CAPTION_OPENING = re.compile(r"^(?:[0-9０-９]{1,2}月[0-9０-９]{1,2}日[，,]|图为|位于)")
# a bulleted brief with its headline inline: `◆ 县人社局：春风行动送岗位上门  3月6日，…`
_INLINE_TITLE = re.compile(
    rf"^([{BULLETS}]\s*[^\s。！？!?]{{4,30}}?)(?:\s{{2,}}|\u3000+)(\S.{{5,}})$"
)


# --- text shape --------------------------------------------------------------------------------


def finished(text: str) -> bool:
    """Whether a paragraph ends a sentence (so a break after it is a real paragraph break).

    A note in brackets after the sentence (`…。（据新华网）`) and a paragraph that is one
    bracketed note (`（作者单位：市社会科学院）`) end one too.
    """
    text = text.rstrip()
    if re.fullmatch(r"[(（][^()（）]+[)）]", text):
        return True
    note = re.search(r"[(（][^()（）]{1,30}[)）]$", text)
    if note and note.start() > 0 and finished(text[: note.start()]):
        return True
    closed = text.rstrip("".join(_CLOSERS))
    if not closed:
        return False
    if closed is not text and closed[-1] not in _SENTENCE_END:
        return False  # `…“四季歌”` stops inside a sentence
    return closed[-1] in _SENTENCE_END


def _balanced(text: str) -> bool:
    pairs = ("“”", "《》", "()", "（）", "「」", "【】")
    return all(text.count(a) == text.count(b) for a, b in pairs)


def _compact(text: str) -> str:
    return re.sub(r"\s", "", text)


def _heading_like(text: str) -> bool:
    """Short, unpunctuated, balanced: the shape of a headline, kicker, subhead or label."""
    compact = _compact(text)
    limit = 50 if compact.endswith(("——", "—")) else 40
    phrases = text.split(" ")
    if len(phrases) > 1 and all(2 <= len(p) <= 26 and not re.search("[,，]", p) for p in phrases):
        limit = 60  # a long headline of phrases set apart: `加强… 努力培养…`
    if not 2 <= len(compact) <= limit or "。" in compact or not _balanced(compact):
        return False
    if compact[-1] in ",，、；;：:" or compact[-1] in _OPENERS or re.search("[；;]", compact):
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
    compact = _compact(text)
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


def _width(text: str) -> float:
    """How wide a line is set, in Han characters: Latin letters, digits and spaces are about
    half as wide."""
    return sum(0.5 if ord(c) < 0x2000 else 1.0 for c in text)


def _row_shaped(text: str) -> bool:
    """A table row flattened to text: three or more short cells apart by spaces, no sentence."""
    cells = text.split(" ")
    return len(cells) >= 3 and all(len(c) <= 14 for c in cells) and "。" not in text


# --- lines -------------------------------------------------------------------------------------


@dataclass
class _Line:
    text: str
    gap: int  # blank lines before it; 0 = same block as the line before
    kind: str = "body"  # body head subhead lead byline caption credit section column note row
    people: tuple[str, ...] = ()
    rest: str = ""  # lead: the paragraph after the byline; caption: the caption; label: its name
    jump: bool = False  # a `(下转第2版)` marker was removed from it
    resume: bool = False  # it goes on with an article begun on another page (`上接第1版`)
    indent: bool = False  # it was indented (`　　…`), as body paragraphs are in web copies
    bullet: bool = False  # it opens with a bullet (`●`, `◆`, `■` …)


def _lines(text: str) -> list[_Line]:
    text = re.sub(r"[\u200b\u200c\u200d\ufeff]", "", text.replace("\r\n", "\n").replace("\r", "\n"))
    out: list[_Line] = []
    gap, resume = 0, False
    for raw in text.split("\n"):
        indent = bool(re.match(r"(?:\u3000|[ \t\xa0]{2,})\S", raw))
        parts = [raw.strip()]
        if inline := _INLINE_TITLE.match(parts[0]):
            parts = [inline.group(1), inline.group(2)]
        for k, part in enumerate(parts):
            line = re.sub(r"[ \t\u3000\xa0]+", " ", part).strip()
            line = _END_MARK.sub("", line).strip()
            # `下转第2版` sends the text on to another page; `上接…`/`紧接…` resume one; `详见…` points
            markers = [m.group(0) for m in _JUMP.finditer(line)]
            jumped = any("转" in m for m in markers)
            resume = resume or any("接" in m for m in markers)
            line = _JUMP.sub("", line).strip()
            if jumped and not line and out:
                out[-1].jump = True
            if not line:
                gap += 1
                continue
            out.append(
                _Line(
                    line,
                    gap if out and not k else 0,
                    jump=jumped,
                    resume=resume,
                    indent=indent and not k,
                    bullet=line[0] in BULLETS,
                )
            )
            gap, resume = 0, False
    return out


def _column_widths(lines: list[_Line]) -> list[int]:
    """The widths of narrow columns when the text keeps every visual line (copied from a PDF):
    many lines of one width, give or take a character. A page may set its articles in columns
    of different widths; an empty list when lines are paragraphs."""
    widths = [
        round(_width(ln.text)) for ln in lines if _width(ln.text) >= 6 and not _furniture(ln.text)
    ]
    if len(widths) < 8:
        return []
    counts = Counter(widths)
    near = {w: counts[w - 1] + counts[w] + counts[w + 1] for w in counts}
    found: list[int] = []
    for w, n in sorted(near.items(), key=lambda p: (-p[1], p[0])):
        wanted = 10 <= w <= 40 and n >= 6 and n >= 0.08 * len(widths)
        if wanted and all(abs(w - f) > 2 for f in found):
            found.append(w)
    covered = sum(n for w, n in near.items() if any(abs(w - f) <= 1 for f in found))
    return found[:3] if covered >= 0.4 * len(widths) else []


def _mend_columns(lines: list[_Line]) -> bool:
    """Join each visual line that fills its column and stops mid-sentence to the next one;
    whether the page is set in such narrow columns."""
    widths = _column_widths(lines)
    if not widths:
        return False
    i = 0
    last = _width(lines[0].text) if lines else 0.0  # width of the last visual line of lines[i]
    starts = True  # lines[i] begins a paragraph
    while i + 1 < len(lines):
        a, b = lines[i], lines[i + 1]
        # a line fills its column, within kinsoku's give; a wider one is a headline across columns
        full = any(w - 1.5 <= last <= w + 2 for w in widths)
        if b.gap == 0 and not b.indent and not a.jump and full and not finished(a.text):
            opens = (
                split_lead(b.text) is not None
                or byline(b.text) is not None
                or byline(a.text) is not None  # `■ 记者 X 通讯员 Y` as wide as the column
                or photo_credit(a.text) is not None  # `… 张三 摄`
                or _NOTE.match(a.text) is not None  # `本组图片均由…摄`
                or _furniture(a.text)
                or _furniture(b.text)
            )
            # a headline as wide as the column, over a story's first line (`央视网消息：…`)
            titled = starts and _heading_like(a.text) and bool(_NEWS_OPENING.match(b.text))
            if not opens and not titled:
                a.text = _join(a.text, b.text)
                a.jump = b.jump
                del lines[i + 1]
                last = _width(b.text)
                continue
        starts = finished(a.text) or _heading_like(a.text)
        i += 1
        last = _width(b.text)
    return True


def _classify(line: _Line) -> None:
    text = line.text
    bare = text.strip("【】〔〕[]［］ " + BULLETS)
    dotted = re.fullmatch(r"[·•・]\s*([^·•・]{2,6}?)\s*[·•・]", text)
    paged = _PAGE_LABEL.match(text)
    if paged and (_SECTION.match(paged.group(1)) or _LABEL.match(paged.group(1))):
        line.kind, line.rest = "section", paged.group(1)
    elif _furniture(text):
        line.kind = "skip"
    elif _NOTE.match(text) and len(text) <= 40:
        line.kind = "note"
        credit = _GROUP_CREDIT.search(text)
        line.people = (parse_people(credit.group(1)) or ()) if credit else ()
    elif _SECTION.match(bare) and len(bare) <= 6:
        line.kind, line.rest = "section", bare
    elif dotted and _LABEL.match(dotted.group(1)):
        line.kind, line.rest = "section", dotted.group(1)
    elif column := _COLUMN.match(text):
        line.kind, line.rest = "column", column.group(1).strip()
    elif (credit := photo_credit(text)) is not None:
        line.rest, line.people = credit
        line.kind = "caption" if line.rest else "credit"
    elif (people := byline(text)) is not None:
        line.kind, line.people = "byline", people
    elif (lead := split_lead(text)) is not None:
        line.kind, line.people, line.rest = "lead", lead[0], lead[1]
    elif _CAPTION_START.match(text) and finished(text):
        line.kind, line.rest = "caption", text.lstrip(BULLETS + " ")
    elif _PARAGRAPH_OPENING.match(text):
        line.kind = "body"
    elif _heading_like(text):
        line.kind = "head"
    else:
        line.kind = "body"


def _furniture(text: str) -> bool:
    """Page furniture: editors, page numbers, dates, navigation, page headers combining them
    (`A07 城事 2024年4月12日 星期五 责编：钟 敏`)."""
    if _BOILERPLATE.match(text):
        return True
    if len(text) > 80 or finished(text):
        return False
    return sum(1 for part in _HEADER_PARTS if part.search(text)) >= 2


def _prepare(text: str) -> list[_Line]:
    """Classified lines: layout mended, heading fragments turned back into body, tables and
    in-article boxes recognised, photos bound to captions."""
    lines = _lines(text)
    narrow = _mend_columns(lines)
    # blank lines mark blocks on most pages; some copy one paragraph per line and none
    blank_mode = sum(1 for ln in lines[1:] if ln.gap) >= (len(lines) - 1) / 2
    for line in lines:
        _classify(line)
    _mark_tables(lines)
    lines = [ln for ln in lines if ln.kind != "skip"]
    _fix_heads(lines)
    _merge_wrapped_heads(lines, blank_mode, narrow)
    _bind_captions(lines, blank_mode)
    return lines


def _fix_heads(lines: list[_Line]) -> None:
    """Headings that lie: the first half of a cut paragraph is body; an indented heading on a
    page that indents its paragraphs (a web copy), a box (`相关链接`), or a column label over a
    paragraph (`【点评】`) is a subhead inside the article."""
    indents = sum(1 for ln in lines if ln.indent)
    indented_page = indents >= max(2, 0.3 * len(lines)) and indents < len(lines)
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else None
        if line.kind == "column" and following and following.kind not in ("head", "column"):
            line.kind = "subhead"
        if line.kind == "body" and following and following.kind == "head" and _unit_colon(line):
            line.kind = "head"  # `三河镇：` over `小龙虾“游”出致富路`
        if line.kind != "head":
            continue
        previous = lines[i - 1] if i else None
        cut = previous is not None and (
            (previous.kind == "body" and not finished(previous.text))
            or (previous.kind == "lead" and previous.rest and not finished(previous.rest))
        )
        if (line.gap == 0 and cut and not previous.jump) or _fragment(
            line.text, following.text if following else None
        ):
            line.kind = "body"
        elif (indented_page and line.indent) or _BOX.match(_compact(line.text)):
            line.kind = "subhead"


def _unit_colon(line: _Line) -> bool:
    """A unit or place label ending in a colon, as kickers are set: `三河镇：`."""
    stem = _compact(line.text)
    return stem[-1:] in "：:" and len(stem) <= 13 and bool(_UNIT.match(stem[:-1]))


def _mark_tables(lines: list[_Line]) -> None:
    """Rows of a flattened table (two or more row-shaped lines in a row, with figures) are kept
    as rows, and a heading right above them is the table's caption, a subhead."""
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and lines[j].kind in ("head", "body") and _row_shaped(lines[j].text):
            j += 1
        rows = lines[i:j]
        if len(rows) >= 2 and any(re.search(r"[0-9０-９]", ln.text) for ln in rows):
            for ln in rows:
                ln.kind = "row"
            if i and lines[i - 1].kind == "head":
                lines[i - 1].kind = "subhead"
        i = max(j, i + 1)


def _merge_wrapped_heads(lines: list[_Line], blank_mode: bool, narrow: bool) -> None:
    """`春耕` + `正当时` in one block is one headline broken by the layout: its second line too
    short to be a headline of its own (`热心市民` + `拾金不昧获点赞` is a kicker and a title). A
    unit label over a title, `示范区` + `…`, is a kicker; in narrow columns, where every
    headline is broken, two short lines are one unless the first names a place (`石桥镇`)."""
    i = 1
    while i < len(lines):
        a, b = lines[i - 1], lines[i]
        na, nb = len(_compact(a.text)), len(_compact(b.text))
        short = (na <= 10 and nb <= 10) if narrow else (nb <= 4 or na + nb <= 8)
        if (
            b.gap == 0
            and (blank_mode or not a.bullet)
            and a.kind == b.kind == "head"
            and short
            and not (_PLACE if narrow else _UNIT).match(a.text)
            and not _GENRE.match(a.text)
            and not a.text.endswith(("——", "：", ":"))
        ):
            a.text += b.text
            del lines[i]
        else:
            i += 1


def _bind_captions(lines: list[_Line], blank_mode: bool) -> None:
    """A credit alone (`陆远 徐小卉 摄`) takes the block before it as its caption, a note
    crediting a group (`本组图片均由X摄`) credits the captions above it, and a heading straight
    before a caption is the photo's title, not an article's."""
    typical_gap = 1 if blank_mode else 0
    for i, line in enumerate(lines):
        if line.kind == "note" and line.people:
            j = i - 1
            while j >= 0 and lines[j].kind == "caption" and not lines[j].people:
                lines[j].people = line.people
                j -= 1
            continue
        if line.kind != "credit" or i == 0:
            continue
        body = lines[i - 1]
        if body.kind == "caption" and not body.people:  # `▲…` caption, credit on the next line
            body.people, line.kind = line.people, "skip"
            continue
        if body.kind == "byline":  # `文/张明` then `图/李华`: the article's own picture
            body.people, line.kind = _union(body.people, line.people), "skip"
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

# paragraph kinds: P a paragraph; SUB a subhead; BOX a subhead that is never a title (a box,
# a table caption, an indented subhead); ROW a table row
P, SUB, BOX, ROW = "p", "sub", "box", "row"


@dataclass
class _Article:
    lines: list[str]  # headline lines, top to bottom
    position: int
    section: str | None
    column: str | None = None
    people: tuple[str, ...] = ()  # named over the text: a lead, a byline under the title
    closing: tuple[str, ...] = ()  # named under it: a signature, `（记者 X）`
    paras: list[tuple[str, str]] = field(default_factory=list)  # (text, kind)
    had_lead: bool = False
    closed: bool = False
    jumped: bool = False
    untitled: bool = False
    bulleted: bool = False  # an item of a bulleted list of briefs

    def add(self, text: str) -> None:
        if self.paras and self.paras[-1][1] == P and not finished(self.paras[-1][0]):
            self.paras[-1] = (_join(self.paras[-1][0], text), P)
        else:
            self.paras.append((text, P))

    @property
    def dangling(self) -> bool:
        """Its text stops mid-sentence: cut by a column break or the page edge."""
        return bool(self.paras) and self.paras[-1][1] == P and not finished(self.paras[-1][0])


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


class _Assembler:
    """Walks the classified lines once, opening and closing articles and photos."""

    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.items: list[_Article | _Photo] = []
        self.page_leads = any(ln.kind == "lead" for ln in lines)
        self.page_signs = any(
            ln.kind == "byline" or (ln.kind == "body" and trailing_byline(ln.text)) for ln in lines
        )
        self.cur: _Article | None = None
        self.section: str | None = None
        self.column: str | None = None  # a column label waiting for its article
        self.notes: list[str] = []  # an editor's note waiting for its article
        self.names: tuple[str, ...] = ()  # a byline waiting for its article
        self.photo_title: str | None = None

    def open(self, lines: list[str], *, untitled: bool = False, bulleted: bool = False) -> _Article:
        art = _Article(
            lines,
            len(self.items) + 1,
            self.section,
            self.column,
            untitled=untitled,
            bulleted=bulleted,
        )
        art.paras.extend((note, P) for note in self.notes)
        art.people, self.names, self.notes = self.names, (), []
        self.column = None
        self.items.append(art)
        self.cur = art
        return art

    def open_untitled(self, text: str, *, bulleted: bool = False) -> _Article:
        return self.open([_first_sentence(text)], untitled=True, bulleted=bulleted)

    def run(self) -> list[_Article | _Photo]:
        lines = self.lines
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.resume:
                self.cur = None  # text from another page: not part of the article above
            i = self.step(i, line)
            cur = self.cur
            if line.jump and cur is not None and cur.paras:
                cur.jumped = cur.closed = True  # `（下转第2版）`: the rest is on another page
            i += 1
        if self.notes:  # an editor's note with no article under it stands alone
            self.open_untitled(self.notes[0])
        articles = [item for item in self.items if isinstance(item, _Article)]
        if self.names and articles:  # a byline under the last article, after it closed
            articles[-1].closing = _union(articles[-1].closing, self.names)
        elif self.names and self.items:  # under the last of a page of photos
            photo = self.items[-1]
            assert isinstance(photo, _Photo)
            photo.people = _union(photo.people, self.names)
        return _split_titles(self.items)

    def step(self, i: int, line: _Line) -> int:
        """Take line i (and the headline lines after it); the index of the last line taken."""
        kind, cur = line.kind, self.cur
        if kind == "section":
            self.section, self.cur, self.column = line.rest, None, None
        elif kind == "column":
            self.column, self.cur = line.rest, None
        elif kind == "phototitle":
            self.photo_title = " ".join(filter(None, [self.photo_title, line.text]))
        elif kind in ("caption", "credit"):
            open_ = cur is not None and not cur.closed and cur.paras
            if open_ and not line.people and not self.photo_title and line.rest.startswith("图为"):
                cur.add(line.rest)  # the article's own picture, uncredited: part of its text
            else:
                self.items.append(
                    _Photo(
                        self.photo_title, line.rest, line.people, len(self.items) + 1, self.section
                    )
                )
                self.photo_title = None
        elif kind == "head":
            return self.heads(i)
        elif kind == "subhead":
            if cur is not None and not cur.closed:
                cur.paras.append((line.text, BOX))
            else:
                return self.heads(i)
        elif kind == "row":
            if cur is None or cur.closed:
                cur = self.open_untitled(line.text)
            cur.paras.append((line.text, ROW))
        elif kind == "lead" and not line.rest and (cur is None or cur.closed or cur.paras):
            self.names = _union(self.names, line.people)  # `本报讯（记者 X）` alone: over a title
        elif kind == "lead":
            if cur is None or cur.closed or cur.paras:
                cur = self.open_untitled(line.rest, bulleted=line.bullet)
            cur.people, cur.had_lead = _union(cur.people, line.people), True
            if line.rest:
                cur.add(line.rest)
                _close_on_trailing_byline(cur)
        elif kind == "byline":
            after_byline = i > 0 and self.lines[i - 1].kind == "byline"
            if cur is not None and not cur.closed and not cur.paras:
                cur.people = _union(cur.people, line.people)  # under the title
            elif cur is not None and (not cur.closed or after_byline):
                cur.closing, cur.closed = _union(cur.closing, line.people), True
            else:
                self.names = _union(self.names, line.people)  # over a title still to come
        elif kind == "body":
            text = line.text.lstrip(BULLETS + " ") if line.bullet else line.text
            if (cur is None or cur.closed) and _EDITORS_NOTE.match(text):
                self.notes.append(text)  # `编者按：…` over the article it introduces
            elif cur is None or cur.closed or (line.bullet and cur.bulleted and cur.paras):
                cur = self.open_untitled(text, bulleted=line.bullet)
                cur.add(text)
            else:
                cur.add(text)
            if cur is not None and cur.paras:
                _close_on_trailing_byline(cur)
        return i

    def heads(self, i: int) -> int:
        lines, cur = self.lines, self.cur
        j = i
        while j + 1 < len(lines) and lines[j + 1].kind == "head":
            j += 1
        heads = _headline_lines(lines[i : j + 1])
        following = lines[j + 1] if j + 1 < len(lines) else None
        after_photo = i > 0 and lines[i - 1].kind in ("caption", "credit")
        if cur and not cur.closed and not cur.paras:
            if cur.untitled:
                cur.lines, cur.untitled = heads, False
            else:
                cur.lines.extend(heads)  # e.g. a subtitle set apart by a byline line
        elif (
            after_photo
            or (lines[i].bullet and (cur is None or cur.bulleted))  # the next bulleted brief
            or _starts_article(cur, heads, following, self.page_leads, self.page_signs)
        ):
            self.open(heads, bulleted=lines[i].bullet)
        elif cur:
            cur.paras.extend((h, SUB) for h in heads)
        return j


def _assemble(lines: list[_Line]) -> list[_Article | _Photo]:
    return _Assembler(lines).run()


def _skeleton(text: str, quotes: bool) -> tuple[str, list[int], str]:
    """A subhead's form: its ordinal's kind, the lengths of its runs of words, and the marks
    between them (`突围,聚焦短板强制度` → ("", [2, 7], ",")), with or without its quotes."""
    compact = _compact(text)
    ordinal = _ORDINAL.match(compact)
    kind = re.sub(r"[一二三四五六七八九十0-9]+", "N", ordinal.group(0)) if ordinal else ""
    rest = compact[ordinal.end() :] if ordinal else compact
    rest = rest.translate(str.maketrans("，“”‘’「」『』", ',""""""""'))
    if not quotes:
        rest = rest.replace('"', "")
    parts = re.split(rf"([^{CJK}A-Za-z0-9]+)", rest)
    return kind, [len(p) for p in parts[::2] if p], "".join(parts[1::2])


def _parallel(a: str, b: str) -> str:
    """How alike two subheads are: "strong" when they share a form with marks or an ordinal
    (`织密网格，…` / `多方联动，…`, `“一把手工程”…` / `“于细微之处”…`), "weak" when plain and
    sharing words at an end or a length (`课程从哪里来` / `老师从哪里来`), else ""."""
    found = ""
    for quotes in (True, False):
        (kind_a, runs_a, marks_a), (kind_b, runs_b, marks_b) = (
            _skeleton(a, quotes),
            _skeleton(b, quotes),
        )
        if kind_a != kind_b:
            return ""
        if kind_a:
            return "strong"
        if marks_a != marks_b or len(runs_a) != len(runs_b):
            continue
        close = all(abs(x - y) <= 2 for x, y in zip(runs_a, runs_b, strict=True))
        if marks_a and close:
            return "strong"
        ca, cb = _compact(a), _compact(b)
        if close and (ca[:2] == cb[:2] or ca[-2:] == cb[-2:] or len(ca) == len(cb)):
            found = "weak"
    return found


def _title_indices(paras: list[tuple[str, str]]) -> list[int]:
    """Where titles read as subheads sit in an article's paragraphs.

    Subheads come in series (three 小标题 in a long piece, alike in form: `_parallel`); a
    numbered subhead, one strongly alike another, or one weakly alike another that is not over
    a news opening, stays. Any other is a title read as a subhead because the article above it
    lacked the signature or lead the rest of the page has: when it is the only one, when it
    stands over a series unlike it (`城西街道推进基层治理精细化` over `织密网格，…`
    `多方联动，…`), or when the paragraph under it opens as news does (`5月3日，…`, `近日，…`).
    """
    subs = [k for k, (_, kind) in enumerate(paras) if kind == SUB]
    out = []
    for n, k in enumerate(subs):
        text = paras[k][0]
        if not 0 < k < len(paras) - 1 or _ORDINAL.match(text):
            continue
        news = paras[k + 1][1] == P and bool(_NEWS_OPENING.match(paras[k + 1][0]))
        alike = {_parallel(text, paras[j][0]) for j in subs if j != k}
        if "strong" in alike or ("weak" in alike and not news):
            continue
        later = [paras[j][0] for j in subs[n + 1 :]]
        over_series = len(later) >= 2 and all(_parallel(later[0], t) for t in later[1:])
        if len(subs) == 1 or over_series or news:
            out.append(k)
    return out


def _split_titles(items: list[_Article | _Photo]) -> list[_Article | _Photo]:
    """Split each article at the titles read as subheads (`_title_indices`), again in each
    part until none is left."""
    out: list[_Article | _Photo] = []
    todo = list(reversed(items))
    while todo:
        item = todo.pop()
        cuts = _title_indices(item.paras) if isinstance(item, _Article) else []
        if not cuts:
            out.append(item)
            continue
        assert isinstance(item, _Article)
        # names over the text belong to the first article, a closing signature's to the last
        parts = [replace(item, paras=item.paras[: cuts[0]], closing=(), jumped=False)]
        for n, k in enumerate(cuts):
            end = cuts[n + 1] if n + 1 < len(cuts) else len(item.paras)
            last = end == len(item.paras)
            parts.append(
                replace(
                    item,
                    lines=[item.paras[k][0]],
                    paras=item.paras[k + 1 : end],
                    people=(),
                    closing=item.closing if last else (),
                    had_lead=False,
                    untitled=False,
                    column=None,
                    jumped=item.jumped and last,
                )
            )
        todo.extend(reversed(parts))
    return out


def _close_on_trailing_byline(art: _Article) -> None:
    """`…获得感。（记者 张三）` ends the article as a signature line would."""
    if art.paras[-1][1] != P:
        return
    tail = trailing_byline(art.paras[-1][0])
    if tail:
        art.paras[-1] = (tail[0], P)
        art.closing = _union(art.closing, tail[1])
        art.closed = True


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a + b))


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
    return not (_ORDINAL.match(heads[0]) or len(_compact(heads[0])) <= 12)


def _first_sentence(text: str) -> str:
    """A name for an item without a headline: its first sentence, or as many of its first
    clauses as fit in TITLE_CHARS, marked cut with `…`."""
    first = re.split(r"(?<=[。！？!?])", text, maxsplit=1)[0]
    if len(first) <= TITLE_CHARS:
        return first
    title = ""
    for clause in re.split(r"(?<=[，,；;：:])", first):
        if len(title) + len(clause) > TITLE_CHARS:
            break
        title += clause
    title = title.rstrip("，,；;：: ")
    return (title if len(title) >= 8 else first[:30]) + "…"


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
    trailing dash or colon, a unit or genre label on top (`示范区`, `短评`), a subtitle's
    leading dash, and otherwise the main title being the shorter, punchier line.
    """
    if len(lines) == 1:
        return None, lines[0], None
    if len(lines) >= 3:
        return lines[0], lines[1], " ".join(lines[2:])
    first, second = lines
    if second.startswith("—"):
        return None, first, second
    if first.endswith(("——", "—", "：", ":")) or _UNIT.match(first) or _GENRE.match(first):
        return first, second, None
    if len(_compact(first)) > len(_compact(second)):
        return first, second, None
    return None, first, second


def _article_entry(art: _Article, published: datetime | None, seen: set[str]) -> Entry:
    kicker, title, subtitle = _roles(art.lines) if not art.untitled else (None, art.lines[0], None)
    paras = list(art.paras)
    if not title.strip():
        # a block with no headline line left (e.g. only a lead): name it by its first words
        title = next((p[:30] for p, _ in paras if p.strip()), "") or "（无标题）"
    if paras and paras[-1][1] in (SUB, BOX):
        # nothing follows it: not a subhead but the last, cut-off line of the text
        paras[-1] = (paras[-1][0], P)
    people = _union(art.people, art.closing)
    if paras and paras[-1][1] == P and (tail := trailing_byline(paras[-1][0])):
        paras[-1] = (tail[0], P)
        people = _union(people, tail[1])
    truncated = art.jumped or not paras or (paras[-1][1] == P and not finished(paras[-1][0]))
    body = [p for p, kind in paras if kind in (P, ROW)]
    content = "\n".join(
        f"<h3>{html.escape(p)}</h3>" if kind in (SUB, BOX) else f"<p>{html.escape(p)}</p>"
        for p, kind in paras
    )
    # the issue date keeps a recurring headline (a weekly column) apart from last week's
    issue = published.date().isoformat() if published else None
    key = _unique(_key(kicker, title, subtitle, issue), seen)
    categories = tuple(dict.fromkeys(c for c in (art.section, art.column) if c))
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
        categories=categories,
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
