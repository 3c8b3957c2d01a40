"""Who wrote it: byline leads, signatures and photo credits as Chinese news text writes them.

Bylines come in a handful of shapes: a lead opening the first paragraph (`本报讯(记者 周晓青)`,
`新华社北京3月8日电（记者 X）`, `本报广州5月19日电 记者 X 报道：`, `华声在线7月6日讯（…）`), a
signature line under the title or closing the article (`·韩立军·`, `本报记者 沈小洁`,
`□ 融媒记者 X 通讯员 Y`, `文/本报记者 X 图/Y`, `本报评论员`, `（记者 X 通讯员 Y）`), or a
photo credit closing a caption (`范同心摄`, `图/孙浩`, `X 摄影报道`, `（资料图片）`). The idea:
strip the role words (记者, 通讯员, 文/图 …) and the closing verbs (报道, 整理), and accept the
rest only if every token is name-shaped (2-4 Han characters; typesetters space two-character
names out, `石 磊`, so two lone characters in a row are one name), so ordinary sentences are left
alone. Shared by the e-paper splitter and the post reader; pure functions over strings.
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
    rf"|[{CJK}]{{1,8}}?(?:融媒体中心|新闻中心|日报社?|晚报|电视台|广播电视台|在线|新闻网))?"
    r"(?:首席|见习|实习|特约|全媒体|融媒体|融媒|摄影)?"
    r"(?:记者|通讯员|实习生|撰稿人?|作者|编辑|读者)"
    r"|文\s*[/／·|]\s*(?:图|视频)|图\s*[/／·|]\s*文|文图|图文|摄影|摄像|视频"
    r"|(?:^|(?<=[\s/／]))[文图](?=\s*[/／:：]|\s)"
)
# closing verbs after the names: `记者 孟凡 报道`, `本报记者 梁晨 整理`
_VERB = re.compile(r"\s*(?:摄影报道|报道|整理|采写|撰文|执笔|摄)\s*[:：]?\s*$")
# a signature that names an office, not a person: `本报评论员`, `人民日报评论员`
_OFFICE = re.compile(
    rf"^(?:本报|本刊|本台|[{CJK}]{{2,8}}?(?:日报|晚报|报社|融媒体中心))?(?:特约|首席)?评论员$"
)
# bracketed words after a paragraph that are not people: `（完）`, `（据新华社）`, `（扩大）`
_NOT_NAMES = re.compile(r"^(?:[据来综转摘编节有]|本报|新华|央视|全文|未完|待续|续完|扩大|完$)")
_SEPARATORS = re.compile(r"[\s、,，/／:：|]+")
# surnames, for names that stand without a role word after a bullet (`□ 钟 文`), where a
# subhead of three-character phrases (`◎ 抓招商 引项目`) has the same shape
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左"
    "柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶"
    "解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬"
    "边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原"
    "栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计"
    "索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕"
    "危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由崇綦芦汝鄂"
)
_COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "令狐", "西门", "南宫", "端木", "独孤", "轩辕", "申屠", "太史", "呼延", "百里", "钟离",
)  # fmt: skip
# the word before 讯/电 ends an agency, a place or a date, never another word (`通讯`, `供电`)
_NOT_AGENCY = "".join(f"(?<!{c})" for c in "通资快简喜视短来发供充用水停光放")
_LEAD = re.compile(
    rf"^(?:[{BULLETS}]\s*)?据?(?:本[报刊台网][{CJK}0-9０-９]{{0,8}}?{_NOT_AGENCY}讯"
    rf"|(?:本[报刊台网]|新华社|中新社|中通社|[{CJK}]{{2,12}}?(?:报|网|台|客户端|融媒体?|新闻|在线|频道))"
    rf"(?:\s*[-—·]\s*[{CJK}]{{2,10}}?(?:频道|版|站))?\s*[{CJK}]{{0,6}}?\s*"
    rf"(?:[0-9０-９]{{1,2}}\s*月)?\s*(?:[0-9０-９]{{1,2}}\s*日)?\s*{_NOT_AGENCY}(?:讯|电)"
    r"(?=\s|[(（]|记者|通讯员|[0-9０-９]|$))"
)
_BARE_NAME = rf"(?!报道)(?:[{CJK}]{{2,4}}|[{CJK}]\s[{CJK}](?![{CJK}]))"  # `应 晖` spaced out
_BARE_BYLINE = re.compile(
    rf"^((?:{_ROLE.pattern})\s*{_BARE_NAME}"
    rf"(?:[\s、]+(?:(?:{_ROLE.pattern})\s*)?{_BARE_NAME})*)"
    r"(\s*报道\s*[:：]?\s*|\s*[:：]\s*|\s+)"
)
_PAREN_START = re.compile(r"^\s*[(（]\s*(?P<inner>[^()（）]{2,48})\s*[)）]\s*")
_CREDIT = re.compile(
    rf"(?:^|(?<=[\s。！？!?…”）)]))\s*[(（]?\s*(?P<credit>(?:[{CJK}]{{0,8}}?(?:记者|通讯员|摄影师?)\s*)?"
    rf"[{CJK}]{{1,4}}(?:[\s、,，]+[{CJK}]{{1,4}}){{0,7}})\s*(?:摄影?(?:报道)?|[/／]\s*摄|供图)\s*[)）]?$"
)
_CREDIT_GIVEN = re.compile(r"[(（]\s*(?:图片|照片)由\s*(.{2,20}?)\s*提供\s*[)）]\s*$")
_CREDIT_SLASH = re.compile(
    rf"^[{BULLETS}]?\s*(?:图|摄影|图片|特约摄影)\s*[/／:：\s]\s*(?P<credit>[{CJK}\s、,，]{{2,30}})$"
)
# a caption whose picture is archive or stock: no photographer to name
_STOCK = re.compile(
    r"[(（]\s*(?:资料图片|资料照片|资料图|网络图片|图片来源[:：][^()（）]{1,20})\s*[)）]$"
)


def parse_people(text: str, *, need_role: bool = False) -> tuple[str, ...] | None:
    """The names in a byline such as `记者 杨志伟 通讯员 许俊峰`; None if it is not one.

    Names are 2-4 Han characters (or two parts joined by `·`); role words are dropped. With
    `need_role` the text must open with a role word, as a byline line does (`本报记者 沈小洁`),
    so that a sentence which merely mentions a reporter is not taken for one.
    """
    text = text.strip().strip(BULLETS).strip()
    if _OFFICE.match(text):
        return (text,)
    if need_role and not _ROLE.match(text):
        return None
    text = _VERB.sub("", text)
    tokens = _pair_lone_characters([t for t in _SEPARATORS.split(_ROLE.sub(" ", text)) if t])
    if not tokens or len(tokens) > 8:
        return None
    if not all(_NAME.match(t) and not _NOT_NAMES.match(t) for t in tokens):
        return None
    return tuple(dict.fromkeys(tokens))


def _pair_lone_characters(tokens: list[str]) -> list[str]:
    """`石 磊` is one name spaced out to the width of three-character names: join two lone Han
    characters in a row (a lone character left over stays alone and fails the name test)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if len(t) == 1 and i + 1 < len(tokens) and len(tokens[i + 1]) == 1:
            out.append(t + tokens[i + 1])
            i += 2
        else:
            out.append(t)
            i += 1
    return out


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
        # (`记者演示起来：…` is a sentence)
        found = parse_people(bare.group(1), need_role=True)
        if found and (lead or "报道" in bare.group(2)):
            people, text = found, text[bare.end() :]
    if not lead and not people:
        return None
    return people, text.lstrip()


def byline(line: str) -> tuple[str, ...] | None:
    """A line that is only a byline: `·韩立军·`, `本报记者 沈小洁`, `(记者 X)`, `文/图 X`."""
    line = re.sub(r"\s+(?:来源|稿源)\s*[:：]\s*\S+$", "", line)  # `作者：X  来源：Y日报`
    if len(line) > 48:
        return None
    dotted = re.fullmatch(r"[·•・●]\s*(.+?)\s*[·•・●]", line)
    if dotted:
        return parse_people(dotted.group(1))
    paren = re.fullmatch(r"[(（]\s*(.+?)\s*[)）]", line)
    if paren:
        return parse_people(paren.group(1))
    if line[0] in "□■◎":
        people = parse_people(line[1:])
        if people and not _ROLE.search(line) and not all(map(_surnamed, people)):
            return None  # `□ 图片新闻`, `◎ 抓招商 引项目`: a label, a subhead
        return people
    people = parse_people(line, need_role=True)
    # a word run on to the role is a label (`记者调查`, `记者手记`) unless it is a name
    attached = re.search(rf"(?:记者|通讯员|读者|作者)([{CJK}]{{2,4}})$", line)
    if people and attached and not _surnamed(attached.group(1)):
        return None
    return people


def _surnamed(name: str) -> bool:
    """Shaped as a person's name: a surname and one or two characters (`高温预警` is not)."""
    if name.startswith(_COMPOUND_SURNAMES):
        return 3 <= len(name) <= 4
    return name[0] in _SURNAMES and len(name) <= 3


def photo_credit(line: str) -> tuple[str, tuple[str, ...]] | None:
    """(caption, credited names) for a line ending in a photo credit (`… 范同心摄`).

    A caption marked `（资料图片）` has no credit to give: (the whole line, ()).
    """
    if _STOCK.search(line) and len(line) > 8:
        return line.lstrip(BULLETS + " ").strip(), ()
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
