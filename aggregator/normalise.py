"""Normalise article text and titles for fingerprinting (never for display).

Two copies of one story differ in ways that say nothing about the story: the outlet's byline
and dateline, reporters' and editors' names, page-break markers of a printed page, photo
credits, punctuation width, traditional or simplified characters. This module removes all of
that, so that what is left is the text the outlets share. It keeps digits: numbers are what
tell two templated reports (yesterday's and today's case count) apart.

The idea: fold width (NFKC), characters (OpenCC hk2s plus a few variant pairs OpenCC keeps
apart) and case; strip whole furniture lines and furniture fragments while paragraph breaks and
punctuation still mark where they stand; finally drop everything that is not a letter or a
digit. The result is idempotent: every furniture pattern needs a bracket, a colon or whitespace,
none of which survive, and the last folding is repeated until it changes nothing.

Most texts are simplified Chinese already, and OpenCC is the costliest step of folding, so it
runs only on texts holding a character it could change: one regex over a class built once from
OpenCC itself (every character hk2s changes on its own) plus the few characters that only
change inside a phrase of OpenCC's tables (`_PHRASE_ONLY`); tests check that list against them.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass

import opencc

_CONVERTER: opencc.OpenCC | None = None
_CONVERTER_LOCK = threading.Lock()
#: Simplified characters that OpenCC hk2s leaves alone on their own but changes inside a phrase
#: of its tables (深沈 → 深沉, 藉口 → 借口, 回覆 → 回复, 毛坏 → 毛坯, 瞭解 → 了解, 李秘 → 李祕 →
#: 李秘 …): every such phrase holds one of these. tests/test_normalise.py checks this against
#: the tables of the installed OpenCC, so an upgrade that adds a phrase fails there.
_PHRASE_ONLY = "沈藉覆坏瞭秘哩甦"
#: Where OpenCC's characters live (radicals, CJK symbols, extension A, unified ideographs,
#: compatibility ideographs); a text with a character beyond the BMP is always converted.
_CJK_BLOCKS = ((0x2E80, 0xA000), (0xF900, 0xFB00))
_CONVERTIBLE: re.Pattern[str] | None = None
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")

# Variant pairs that OpenCC deliberately keeps apart in running text but that reprints use
# interchangeably; folding them only matters for matching, never for display.
_FOLD = {
    "著": "着",
    "衞": "卫",
    "綫": "线",
    "麪": "面",
    "眾": "众",
    "啟": "启",
    "像": "象",
    "週": "周",
    "祕": "秘",
    "汙": "污",
    "麼": "么",
}
_SURROGATE = re.compile("[\ud800-\udfff]")
_FOLD_RE = re.compile("[" + "".join(_FOLD) + "]")

# str.translate is slow on non-ASCII text; a regex over the few code points is not.
_WIDTH = {chr(cp): unicodedata.normalize("NFKC", chr(cp)) for cp in range(0xFF01, 0xFF5F)}
_WIDTH["\u3000"] = " "
_WIDTH_RE = re.compile("[\uff01-\uff5e\u3000]")

_CJK = r"\u3400-\u9fff"
_NAME = rf"[{_CJK}]{{2,4}}"
_OPEN = r"[(（\[【〔]"
_CLOSE = r"[)）\]】〕]"
_DATE = r"(?:\d{1,2}\s*月\s*)?\d{1,2}\s*日"

# Agency or paper datelines: 新华社北京10月19日电, 本报泉州7月4日电, 据新华社堪培拉7月4日电.
_DATELINE = re.compile(
    rf"^\s*(?:据|據)?[{_CJK}A-Za-z]{{1,12}}?{_DATE}\s*(?:电|電|讯|訊|专电|專電|消息)(?=[\s(（:：,，]|$)\s*[:：,，]?"
)
# Outlet lead-ins: 央视网消息（新闻联播）：, (澳門電台消息), 本报讯(记者 …), 新华网消息：
_LEAD_IN = re.compile(
    rf"^\s*(?:{_OPEN}\s*[{_CJK}A-Za-z]{{2,12}}(?:消息|讯|訊){_CLOSE}\s*[:：]?"
    rf"|[{_CJK}A-Za-z]{{2,12}}?(?:消息|讯|訊)\s*{_OPEN}[^()（）\n]{{0,40}}{_CLOSE}\s*[:：]?"
    rf"|[{_CJK}A-Za-z]{{2,12}}?(?:消息|讯|訊)\s*[:：]"
    rf"|(?:本报|本報|本刊|本台|本网|本網)(?:讯|訊)\s)"
)
# Reporter and author credits in brackets, anywhere: （记者 张三 李四）, (作者为…本报记者…采访整理).
_CREDIT = re.compile(
    rf"{_OPEN}\s*(?:本报|本報|新华社|新華社|中新社|特约|特約|实习|實習|见习|見習|首席|驻[{_CJK}]{{1,6}})?"
    rf"\s*(?:(?:记者|記者|通讯员|通訊員|编辑|編輯|撰稿|作者|报道员|報道員)|(?:摄影|攝影|文|图|圖)\s*[/:：|])"
    rf"[^()（）\[\]【】\n]{{0,60}}{_CLOSE}"
)
# Trailing dateline in brackets: （新华社缅甸蒲甘7月4日电）
_TAIL_DATELINE = re.compile(rf"{_OPEN}[^()（）\n]{{0,24}}{_DATE}\s*(?:电|電){_CLOSE}")
# Names in brackets closing a broadcast item: (梁婉琦 謝娜娜), (特約記者潘泳雯在新加坡報道).
_TAIL_NAMES = re.compile(
    rf"{_OPEN}\s*(?:{_NAME}(?:[\s、,，/]+{_NAME}){{0,3}}|[^()（）\n]{{0,30}}(?:报道|報道|报导|報導))"
    rf"\s*{_CLOSE}\s*$"
)
_END_MARK = re.compile(rf"{_OPEN}\s*(?:完|终|終|全文完)\s*{_CLOSE}")
_PAGE_NO = r"(?:第\s*)?[0-9A-Za-z一二三四五六七八九十〇零]{1,4}\s*(?:版|页|頁)"
_PAGE_BREAK = re.compile(
    rf"{_OPEN}\s*(?:下转|下轉|上接|紧接|緊接|转|轉|接)\s*{_PAGE_NO}\s*{_CLOSE}"
)
_PAGE_BREAK_LINE = re.compile(rf"^\s*(?:下转|下轉|上接|紧接|緊接|转|轉|接)\s*{_PAGE_NO}\s*$")
# Photo credits: 新华社记者 杨磊 摄, 苗秋闹摄（新华社发）, 人民网霍亚平 摄, (2024年1月3日摄)
_PHOTO_LINE = re.compile(
    rf"(?:\s(?:摄|攝)|(?:摄|攝)\s*{_OPEN}[^()（）\n]{{0,12}}{_CLOSE}|{_OPEN}[^()（）\n]{{0,40}}"
    rf"(?:摄|攝)[^()（）\n]{{0,12}}{_CLOSE})[\s。.]*$"
    rf"|{_OPEN}[^()（）\n]{{0,30}}\d\s*日\s*(?:摄|攝)[^()（）\n]{{0,12}}{_CLOSE}"
)
_PHOTO = re.compile(rf"{_OPEN}[^()（）\n]{{0,40}}(?:摄|攝)[^()（）\n]{{0,12}}{_CLOSE}")
_SIGNATURE = re.compile(rf"[·•]\s*{_NAME}\s*[·•]\s*$|^\s*[·•]\s*{_NAME}\s*[·•]")
# Whole furniture lines: editor, layout and source lines, reporter lines of a printed page.
_FURNITURE_LINE = re.compile(
    rf"^\s*[□■◆●▲◇○★☆]?\s*{_OPEN}?\s*(?:责任编辑|責任編輯|编辑|編輯|审核|審核|校对|校對|"
    r"版式设计|版式設計|美编|美編|来源|來源|转自|轉自|原标题|原標題|图片来源|圖片來源|监制|監製|"
    r"制作|製作|统筹|統籌|策划|策劃|文字|摄影|攝影|视频|視頻|海报设计|值班编辑|出品|主编|主編)"
    r"\s*[:：|｜]"
)
_REPORTER_LINE = re.compile(
    rf"^\s*[□■◆●▲◇○★☆]?\s*(?:本报|本報|新华社|新華社)?(?:记者|記者|通讯员|通訊員|见习记者|實習記者)"
    rf"\s+{_NAME}(?:[\s、,，]+(?:{_NAME}|记者|記者|通讯员|通訊員)){{0,8}}\s*$"
)
_COLUMN_TAG = re.compile(r"^\s*【[^】]{1,20}】")
# What every fragment pattern above starts with: an opening bracket, or a signature's dot.
_MARKS = re.compile(r"[(（\[【〔·•]")
_NOT_WORD = re.compile(r"[\W_]+")
_SENTENCE_END = re.compile(r"[。！？!?;；\n]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# TDM-style spacing puts blanks between digits and letters ("向 2024年", "1時 40分").
_DIGIT_GAP = re.compile(r"(?<=[^\W\d_])[ \t]+(?=\d)|(?<=\d)[ \t]+(?=[^\W\d_])")

_LEAD_PUNCT = " \t:：,，、"

#: Lines at most this long may be dropped whole as captions or furniture.
_SHORT_LINE = 160


def _converter() -> opencc.OpenCC:
    """Build the OpenCC converter once per process; it loads dictionaries from disk."""
    global _CONVERTER
    if _CONVERTER is None:
        with _CONVERTER_LOCK:
            if _CONVERTER is None:
                _CONVERTER = opencc.OpenCC("hk2s")
    return _CONVERTER


def _convertible() -> re.Pattern[str]:
    """A class of every BMP character OpenCC hk2s may change: built once per process, by
    converting each character of the CJK blocks (one call, about 20 ms), plus _PHRASE_ONLY."""
    global _CONVERTIBLE
    if _CONVERTIBLE is None:
        chars = [chr(cp) for lo, hi in _CJK_BLOCKS for cp in range(lo, hi)]
        # Newlines keep every character a segment of its own: no phrase spans two.
        out = _converter().convert("\n".join(chars)).split("\n")
        if len(out) != len(chars):  # never seen; then every text is converted
            _CONVERTIBLE = re.compile(".", re.DOTALL)
        else:
            changed = {c for c, o in zip(chars, out, strict=True) if o != c}
            changed.update(_PHRASE_ONLY)
            # BMP only: sre tests a BMP class with a bitmap, an astral one by linear search.
            _CONVERTIBLE = re.compile("[" + re.escape("".join(sorted(changed))) + "]")
    return _CONVERTIBLE


def may_convert(text: str) -> bool:
    """Whether OpenCC hk2s could change `text`; when False, converting returns it unchanged."""
    return _convertible().search(text) is not None or _ASTRAL.search(text) is not None


def fold(text: str) -> str:
    """Width, character-set and case folding only: NFKC, traditional→simplified, casefold."""
    # Lone surrogates (from broken decoding upstream) cannot reach OpenCC's UTF-8 encoder.
    text = _nfkc(_SURROGATE.sub("", text))
    if may_convert(text):
        text = _converter().convert(text)
    text = _FOLD_RE.sub(lambda m: _FOLD[m.group()], text)
    lowered = text.casefold()
    return text if lowered == text else _nfkc(lowered)


def _nfkc(text: str) -> str:
    # Chinese text is rarely NFKC only because of its full-width punctuation; translating
    # that first lets the cheap check pass, and full NFKC runs only on what needs it.
    text = _WIDTH_RE.sub(lambda m: _WIDTH[m.group()], text)
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def _strip_lead(line: str) -> str:
    """Remove datelines and outlet lead-ins at the start of a paragraph, in any order."""
    for _ in range(4):
        before = line
        line = _DATELINE.sub("", line, count=1).lstrip(_LEAD_PUNCT)
        line = _LEAD_IN.sub("", line, count=1).lstrip(_LEAD_PUNCT)
        if line[:1] in "(（[【〔":
            line = _CREDIT.sub("", line, count=1).lstrip(_LEAD_PUNCT)
        if line == before:
            break
    return line


def _strip_line(line: str, lead: bool, last: bool) -> str:
    """Remove furniture from one paragraph; returns "" when the whole line is furniture."""
    if _furniture_line(line):
        return ""
    original = line
    if lead:
        line = _strip_lead(line)
    # Every fragment pattern needs an opening bracket or a signature dot: most paragraphs
    # have neither, and one search spares them seven substitutions.
    marked = _MARKS.search(line) is not None
    if marked:
        # Then again after the fragments, so that a caption or an editor line followed by a
        # signature is still recognised as a whole furniture line.
        line = _CREDIT.sub("", line)
        line = _TAIL_DATELINE.sub("", line)
        line = _END_MARK.sub("", line)
        line = _PAGE_BREAK.sub("", line)
        line = _SIGNATURE.sub("", line)
        if last:
            line = _TAIL_NAMES.sub("", line)
    if last:
        line = line.rstrip()
    if line != original and _furniture_line(line):
        return ""
    return _PHOTO.sub("", line) if marked else line


def _furniture_line(line: str) -> bool:
    return len(line) <= _SHORT_LINE and bool(
        _FURNITURE_LINE.match(line)
        or _REPORTER_LINE.match(line)
        or _PAGE_BREAK_LINE.match(line)
        # every photo-credit pattern holds 摄 (攝): most lines are spared the search
        or (("摄" in line or "攝" in line) and _PHOTO_LINE.search(line))
    )


def strip_furniture(text: str) -> str:
    """Drop bylines, credits, editor lines, page-break markers and captions; keep paragraphs."""
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    out: list[str] = []
    for i, line in enumerate(lines):
        # A dateline or lead-in may follow a standalone kicker or headline line, so the first
        # two paragraphs are tried; the patterns are anchored and need a separator to match.
        kept = _strip_line(line, lead=i < 2, last=i == len(lines) - 1).strip()
        if kept:
            out.append(kept)
    return "\n".join(out)


def _words(folded: str) -> str:
    """Keep letters and digits of folded text, refolding until stable.

    Dropping punctuation can bring characters together that fold differently as a phrase,
    and OpenCC is not quite idempotent; one extra pass is the price of `normalise` being so.
    """
    text = _NOT_WORD.sub("", folded)
    for _ in range(4):
        again = _NOT_WORD.sub("", fold(text))
        if again == text:
            break
        text = again
    return text


def normalise(text: str) -> str:
    """The text as fingerprinting sees it: furniture stripped, folded, letters and digits only.

    Idempotent and total: any string in, a string of letters and digits out.
    """
    if not text:
        return ""
    return _words(strip_furniture(fold(text)))


def normalise_title(title: str) -> str:
    """A headline as compared across outlets: column tags like 【走进县城看发展】 dropped."""
    if not title:
        return ""
    return _words(_COLUMN_TAG.sub("", fold(title)))


def numbers_in_context(folded: str, width: int = 2) -> list[tuple[str, str, str]]:
    """Each number of a folded text, with up to `width` letters either side in its clause.

    Used to tell templated reports apart: the same context with another number is another
    report, the same context with the same number the same one. Run on text that still has
    its punctuation, so a context never reaches into the next sentence: dropping a sentence
    in a reprint then changes no context.
    """
    text = _DIGIT_GAP.sub("", folded)
    out: list[tuple[str, str, str]] = []
    for m in _NUMBER.finditer(text):
        start, end = m.span()
        pre = text[max(0, start - width) : start]
        k = len(pre)
        while k and pre[k - 1].isalpha():
            k -= 1
        post = text[end : end + width]
        n = 0
        while n < len(post) and post[n].isalpha():
            n += 1
        out.append((pre[k:], m.group().replace(",", ""), post[:n]))
    return out


@dataclass(frozen=True)
class Normalised:
    """A text as the merger sees it: its letters and digits, and its numbers in context."""

    text: str
    numbers: tuple[tuple[str, str, str], ...] = ()
    sentences: tuple[str, ...] = ()  # normalised sentences, in order


def sentences(folded: str) -> list[str]:
    """The sentences of a folded text, each reduced to letters and digits.

    Reprints keep whole sentences: an abridged copy drops some, a light edit rewords few, so
    shared sentences find copies whose overall similarity is low.
    """
    out = []
    for part in _SENTENCE_END.split(folded):
        words = _NOT_WORD.sub("", part)
        if words:
            out.append(words)
    return out


def prepare(text: str) -> Normalised:
    """`normalise` plus numbers in context and sentences, from one folding and stripping."""
    if not text:
        return Normalised("")
    stripped = strip_furniture(fold(text))
    return Normalised(
        _words(stripped), tuple(numbers_in_context(stripped)), tuple(sentences(stripped))
    )
