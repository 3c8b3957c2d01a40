"""Who wrote it: byline leads, signatures and photo credits as Chinese news text writes them.

Bylines come in a handful of shapes: a lead opening the first paragraph (`本报讯(记者 周晓青)`,
`新华社北京3月8日电（记者 X）`), a signature line closing the article (`·韩立军·`,
`本报记者 沈小洁`, `（记者 X 通讯员 Y）`), or a photo credit closing a caption (`范同心摄`,
`图/孙浩`). The idea: strip the role words (记者, 通讯员, 文/图 …) and accept the rest only if
every token is name-shaped (2-4 Han characters), so ordinary sentences are left alone.
Shared by the e-paper splitter and the post reader; pure functions over strings.
"""

from __future__ import annotations

import re

__all__ = [
    "BULLETS",
    "CJK",
    "byline",
    "parse_people",
    "photo_credit",
    "split_lead",
    "trailing_byline",
]

CJK = r"\u3400-\u9fff"
BULLETS = "●■◆▲□◎★☆▶►•◇△◀▼▽←→↑↓"
_NAME = re.compile(rf"^(?:[{CJK}]{{2,4}}|[{CJK}]{{1,6}}[·•][{CJK}]{{1,8}})$")
_ROLE = re.compile(
    r"(?:本报|本刊|本台|本网|新华社|人民网|中新社|中新网"
    rf"|[{CJK}]{{1,8}}?(?:融媒体中心|新闻中心|日报社?|晚报|电视台|广播电视台))?"
    r"(?:首席|见习|实习|特约|全媒体|融媒体|融媒|摄影)?"
    r"(?:记者|通讯员|实习生|撰稿人?|作者|编辑)"
    r"|文\s*[/／·|]\s*图|图\s*[/／·|]\s*文|文图|图文|摄影"
    r"|(?:^|(?<=\s))[文图](?=\s*[/／:：]|\s)"
)
# bracketed words after a paragraph that are not people: `（完）`, `（据新华社）`, `（扩大）`
_NOT_NAMES = re.compile(r"^(?:[据来综转摘编节有]|本报|新华|央视|全文|未完|待续|续完|扩大|完$)")
_SEPARATORS = re.compile(r"[\s、,，/／:：|]+")
_LEAD = re.compile(
    rf"^(?:[{BULLETS}]\s*)?(?:本[报刊台网][{CJK}0-9０-９]{{0,8}}?讯"
    rf"|(?:[{CJK}]{{2,12}}?(?:报|网|台|社|客户端|融媒体?|新闻))\s*[{CJK}]{{0,6}}?\s*"
    r"(?:[0-9０-９]{1,2}月[0-9０-９]{1,2}日)?\s*(?:讯|电)(?=\s|[(（]|记者|通讯员|[0-9０-９]|$))"
)
_BARE_BYLINE = re.compile(
    rf"^((?:{_ROLE.pattern})\s*[{CJK}]{{2,4}}(?:[\s、]+(?:(?:{_ROLE.pattern})\s*)?[{CJK}]{{2,4}})*)"
    r"(\s*报道\s*[:：]?\s*|\s*[:：]\s*|\s+)"
)
_PAREN_START = re.compile(r"^\s*[(（]\s*(?P<inner>[^()（）]{2,48})\s*[)）]\s*")
_CREDIT = re.compile(
    rf"(?:^|(?<=[\s。！？!?…”）)]))\s*[(（]?\s*(?P<credit>(?:[{CJK}]{{0,8}}?(?:记者|通讯员|摄影师?)\s*)?"
    rf"[{CJK}]{{2,4}}(?:[\s、,，]+[{CJK}]{{2,4}}){{0,5}})\s*(?:摄影?|[/／]\s*摄|供图)\s*[)）]?$"
)
_CREDIT_GIVEN = re.compile(r"[(（]\s*(?:图片|照片)由\s*(.{2,20}?)\s*提供\s*[)）]\s*$")
_CREDIT_SLASH = re.compile(rf"^(?:图|摄影|图片)\s*[/／:：\s]\s*(?P<credit>[{CJK}\s、,，]{{2,30}})$")


def parse_people(text: str, *, need_role: bool = False) -> tuple[str, ...] | None:
    """The names in a byline such as `记者 杨志伟 通讯员 许俊峰`; None if it is not one.

    Names are 2-4 Han characters (or two parts joined by `·`); role words are dropped. With
    `need_role` the text must open with a role word, as a byline line does (`本报记者 沈小洁`),
    so that a sentence which merely mentions a reporter is not taken for one.
    """
    text = text.strip().strip(BULLETS).strip()
    if need_role and not _ROLE.match(text):
        return None
    tokens = [t for t in _SEPARATORS.split(_ROLE.sub(" ", text)) if t]
    if not tokens or len(tokens) > 8:
        return None
    if not all(_NAME.match(t) and not _NOT_NAMES.match(t) for t in tokens):
        return None
    return tuple(dict.fromkeys(tokens))


def split_lead(paragraph: str) -> tuple[tuple[str, ...], str] | None:
    """`本报讯(记者 周晓青)昨天,…` → (("周晓青",), "昨天,…"); None if no byline lead.

    Takes the agency lead (`本报讯`, `新华社北京3月8日电`) and a bracketed byline after it, or
    a bracketed byline alone if it names a role (`（记者 张三）3月1日…`).
    """
    text = paragraph.lstrip()
    people: tuple[str, ...] = ()
    lead = _LEAD.match(text)
    if lead:
        text = text[lead.end() :].lstrip(" :：")
    paren = _PAREN_START.match(text)
    if paren:
        found = parse_people(paren.group("inner"), need_role=not lead)
        if found:
            people, text = found, text[paren.end() :]
    elif bare := _BARE_BYLINE.match(text):
        # `本报讯 记者 何静 日前，…` or `记者 张三 报道：…`; without an agency only the latter
        found = parse_people(bare.group(1), need_role=True)
        if found and (lead or bare.group(2).strip()):
            people, text = found, text[bare.end() :]
    if not lead and not people:
        return None
    return people, text.lstrip()


def byline(line: str) -> tuple[str, ...] | None:
    """A line that is only a byline: `·韩立军·`, `本报记者 沈小洁`, `(记者 X)`, `文/图 X`."""
    if len(line) > 48:
        return None
    dotted = re.fullmatch(r"[·•・●]\s*(.+?)\s*[·•・●]", line)
    if dotted:
        return parse_people(dotted.group(1))
    paren = re.fullmatch(r"[(（]\s*(.+?)\s*[)）]", line)
    if paren:
        return parse_people(paren.group(1))
    if line[0] in "□■◎":
        return parse_people(line[1:])
    return parse_people(line, need_role=True)


def photo_credit(line: str) -> tuple[str, tuple[str, ...]] | None:
    """(caption, credited names) for a line ending in a photo credit (`… 范同心摄`)."""
    given = _CREDIT_GIVEN.search(line)
    if given:
        return line[: given.start()].strip().lstrip(BULLETS + " ").strip(), (given.group(1),)
    slash = _CREDIT_SLASH.match(line)
    m = slash or _CREDIT.search(line)
    if not m:
        return None
    credit = re.sub(r"(?:摄影师?)\s*$", "", m.group("credit"))
    names = parse_people(credit)
    if not names:
        return None
    caption = line[: m.start()].strip() if not slash else ""
    return caption.lstrip(BULLETS + " ").strip(), names


def trailing_byline(text: str) -> tuple[str, tuple[str, ...]] | None:
    """`…获得感。(记者 张三)` → the paragraph without it, and the names."""
    m = re.search(
        r"(?<=[。！？!?…”])\s*([(（][^()（）]{2,40}[)）]|[·•]\s*[^·•]{2,30}[·•])\s*$", text
    )
    if not m:
        m = re.search(r"(?<=[。！？!?…”])\s+(\S.{1,30})$", text)
    if not m:
        return None
    people = byline(m.group(1).strip())
    return (text[: m.start()].rstrip(), people) if people else None
