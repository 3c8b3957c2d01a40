"""Region tagging: which divisions an article is about, at every level, with evidence.

Three ideas carry it.

1. One Aho-Corasick pass finds every name, short name, outlet self-reference (我区, 市委) and
   known non-place word (真金白银, 新华社) in title + text; overlapping hits are settled
   longest first, so a longer word always beats the place name hidden inside it.
2. A name is only as good as its context. Full, unique names count anywhere; short names of
   counties (武进) and towns, two-character full names (睢县) and names shared by many places
   (文峰街道 ×12) count only when a parent is already in context: the outlet's home region or
   another name resolved in the same article. Resolution repeats until nothing new resolves.
3. Cheap local guards catch what naive matchers get wrong: a short name followed by 路/大街/
   花苑/公司/大学/分局... is a street or an organisation, one wedged between a surname and a
   name-list comma is a person (严崇明).

The score (0..1) says how central a region is: title mentions weigh most, then repeated
mentions, an early mention and the outlet's self-references; it is scaled by the strongest
region's weight so an aside scores low. Ancestors take the best score of their descendants.
Evidence offsets are into `title + "\\n\\n" + text` (just `text` when the title is empty);
evidence with start -1 is not in the text (the home default, or an ancestor's "within").
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from importlib import resources

from aggregator.gazetteer import DEPTH, FORMER, LOCAL, NAME, SHORT, Gazetteer, words
from aggregator.model import Evidence, RegionTag
from aggregator.multimatch import WordMatcher

# City short names that are everyday words: they need their province in context.
CITY_SHORT_NEEDS_CONTEXT = words(
    "白银 来宾 日照 安康 长治 大理 普洱 哈密 玉树 阿里 中山 朝阳 大同 三明 开封 新乡 海东 海北 "
    "海西 山南 黄南 红河 怒江 黑河 兴安 白山 黄山 文山 北海 吉安 承德 四平 大庆 海口 安顺 巴中 "
    "广安 攀枝花 通化 抚顺 常德 怀化 恩施 孝感 金华 丽水 松原 玉林 百色 云浮 乐山 眉山 榆林 "
    "武威 酒泉 中卫 铁岭 商洛 荆门 珠海 河源 新星 双河 昆玉 黄石"
)

# Full names that read as ordinary words (老城区 = "the old town"): they need context.
NAMES_NEED_CONTEXT = words(
    "老城区 新城区 古城区 城中区 城东区 城西区 城南区 城北区 市中区 中区 东区 西区 南区 北区 "
    "新市区 江南区 江北区 河东区 河西区 河北区 向阳区 红旗区 新华区 和平区 长安区 光明区 友好区 "
    "前进区 东风区 新兴区 胜利区 工农区 先锋区 白云区 青山区 南山区 东山区 西山区 北山区 铁东区 "
    "铁西区 开发区 高新区"
)

# Words that contain a place name but are not about the place (beside the idiom list).
BLOCKERS = words(
    "新华社 新华网 新华每日电讯 新华书店 新华字典 共和国 三明治 东方红 东方卫视 东方明珠 东方网 "
    "东方航空 公安局 公安部 公安厅 公安机关 公安分局 公安干警 公安民警 合作社 大理石 普洱茶 "
    "哈密瓜 和田玉 阿里巴巴 阿里云 北京时间 上海合作组织 上海精神 北海道 黄石公园 广安门 "
    "平安阳光 周年大庆 中山装 中山公园 北海公园 真金白银 小兴安岭 安宁疗护 永和豆浆 白银时代 "
    "来宾们 各位来宾 日照时间 日照时数 大同小异 世界大同 长寿命 金山银山 太平洋 太平间 和平共处 "
    "新兴产业 新兴市场 新兴领域 新兴技术"
)

# A weak name (short, local or two-character) right before one of these is a street, an estate,
# an organisation or a smaller place of the same name.
SUFFIX_GUARD = tuple(
    words(
        "大道 大街 巷 弄 胡同 路 花苑 花园 苑 府 小区 公寓 家园 新村 公司 集团 银行 股份 控股 "
        "证券 大学 学院 中学 小学 分局 酒店 宾馆 饭店 大厦 商场 广场 公园 社区 街道 镇 乡 村 队 "
        "籍 话 舰 菜 卫视 腔 侧 岸 麓 坡 端"
    )
)
# ...unless the suffix starts a word that keeps the place (南京路演? 南京街头, 河南队伍).
SUFFIX_OK = ("路线", "路径", "路演", "队伍", "话题", "菜市", "村民", "府谷", "社区卫生")

SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞"
    "左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕"
    "屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应"
    "臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
NAME_BREAK = frozenset("、，,。；;：:（）()“”\"' \n\t")

# Outlet self-references: 我区, 全市, 区委, 市政府... resolve through the home region's lineage.
UNITS = "省市区县镇乡旗州"
REF_BEFORE = ("我", "全", "本", "该")
REF_AFTER = ("委", "政府", "人民政府", "人大", "政协", "纪委", "长", "领导", "直", "级", "属")
# Characters that, before the unit, make a different word: 社区委员会, 城市长远, 乡镇政府.
REF_BAD_PREV = {
    "区": set(
        "社小园城市郊景校片辖新矿灾疫老山林牧库湾港街震验贸税聚假闲宅厂营考选学军禁战边藏苏院病站地展管农湖业范护能特商"
    ),
    "市": set("城超都股楼夜集菜门上早黑花灯鱼米牛车房马债期汇开休闭闹地各"),
    "县": set("郡州府各"),
    "镇": set("城乡集村重小古名强各"),
    "乡": set("城家故下返回老异他同原思水梦侨各"),
    "省": set("各外节反"),
    "旗": set("国红党队彩锦军"),
    "州": set("各九神"),
}
REF_BAD_NEXT = set("域场份界")

_KIND_RULE = {NAME: "name", FORMER: "former-name", SHORT: "short-name", LOCAL: "home-ref"}


@dataclass(frozen=True)
class _Cand:
    code: str
    kind: str
    depth: int
    anchors: tuple[tuple[str, int], ...]  # (code, depth) of ancestors that license it
    free: bool  # may count without any context
    weak: bool  # subject to the suffix and person guards


@dataclass
class _Mention:
    start: int
    end: int
    text: str
    cands: tuple[_Cand, ...]


class _Matcher:
    """The automaton and candidate table for one gazetteer, built once."""

    def __init__(self, gaz: Gazetteer) -> None:
        common = set(_packaged_words("regions_common.tsv"))
        table: dict[str, dict[str, _Cand]] = {}
        for surface, code, kind in gaz.surfaces():
            d = gaz.get(code)
            if d is None or (kind == SHORT and d.level == "county" and surface in common):
                continue  # 资源县's 资源 is a word first: only its full name counts
            # ...and 新建区 ("a newly built area") then needs context like a short name.
            plain_word = d.level == "county" and len(surface) == 3 and surface[:2] in common
            cand = _Cand(
                code=code,
                kind=kind,
                depth=DEPTH[d.level],
                anchors=_anchors(gaz, code, town_short=kind == SHORT and d.level == "town"),
                free=_is_free(surface, d.level, kind) and not plain_word,
                weak=kind in (SHORT, LOCAL) or len(surface) == 2,
            )
            slot = table.setdefault(surface, {})
            old = slot.get(code)
            # One candidate per code per surface: the strongest reading wins.
            if old is None or (cand.free, not cand.weak) > (old.free, not old.weak):
                slot[code] = cand
        words: dict[str, tuple] = {}
        for surface, slot in table.items():
            words[surface] = (0, surface, tuple(slot.values()))
        for word in (*BLOCKERS, *_packaged_words("regions_blockers.tsv")):
            if word not in table:
                words[word] = (1, word, ())
        for unit in UNITS:
            for pre in REF_BEFORE:
                self._add_ref(words, pre + unit, unit, False)
            for post in REF_AFTER:
                if not (unit == "州" and post == "长"):  # 州长 is a US governor
                    self._add_ref(words, unit + post, unit, True)
        self.automaton = WordMatcher(words)  # every occurrence, overlaps settled by _scan
        self.bigrams = frozenset(_packaged_words("regions_bigrams.tsv"))

    @staticmethod
    def _add_ref(words: dict[str, tuple], word: str, unit: str, unit_first: bool) -> None:
        if word not in words:
            words[word] = (2, word, (unit, unit_first))


def _anchors(gaz: Gazetteer, code: str, town_short: bool = False) -> tuple[tuple[str, int], ...]:
    """The ancestors whose presence in context makes a context-bound name count, nearest
    first: a county's city and province (西藏 licenses 墨脱), a township's county and city
    (湖塘镇 counts in a 常州 paper). A township's short name (观音山) needs its county: at
    city level it is too often a lake or a hill of the same name."""
    out: list[tuple[str, int]] = []
    for a in gaz.ancestors(code):
        if town_short and a.level in ("city", "province") and out:
            break
        out.append((a.code, DEPTH[a.level]))
        if a.level == "province" or (a.level == "city" and DEPTH[gaz.get(code).level] > 2):
            break
    return tuple(out)


def _is_free(surface: str, level: str, kind: str) -> bool:
    if kind == LOCAL or len(surface) < 2 or surface in NAMES_NEED_CONTEXT:
        return False
    if level == "province":
        return True
    if level == "city":
        return kind != SHORT or surface not in CITY_SHORT_NEEDS_CONTEXT
    if kind == SHORT:
        return level in ("county", "zone") and len(surface) >= 3
    return len(surface) >= 3


def _packaged_words(name: str) -> list[str]:
    text = resources.files("aggregator.data").joinpath(name).read_text("utf-8")
    return [w for w in text.splitlines() if w and not w.startswith("#")]


_MATCHERS: weakref.WeakKeyDictionary[Gazetteer, _Matcher] = weakref.WeakKeyDictionary()


def matcher_for(gazetteer: Gazetteer) -> _Matcher:
    """Build (once per gazetteer) the automaton; call at start-up to keep tagging fast."""
    m = _MATCHERS.get(gazetteer)
    if m is None:
        m = _MATCHERS[gazetteer] = _Matcher(gazetteer)
    return m


def _scan(m: _Matcher, text: str) -> list[tuple[int, int, int, str, tuple]]:
    """All hits, overlaps settled longest first (then leftmost)."""
    hits = [(end - len(word) + 1, end + 1, kind, word, payload)
            for end, (kind, word, payload) in m.automaton.find(text)]
    hits.sort(key=lambda h: (h[0] - h[1], h[0]))
    taken = bytearray(len(text))
    kept = []
    for h in hits:
        if taken.find(1, h[0], h[1]) < 0:  # nothing in the span is taken yet
            taken[h[0] : h[1]] = b"\x01" * (h[1] - h[0])
            kept.append(h)
    kept.sort()
    return kept


def _guarded(text: str, start: int, end: int) -> bool:
    """True when a weak name at text[start:end] is a street, organisation or person."""
    after = text[end : end + 4]
    if after.startswith(SUFFIX_GUARD) and not after.startswith(SUFFIX_OK):
        return True
    if end - start == 2 and start >= 1 and text[start - 1] in SURNAMES:
        before = text[start - 2] if start >= 2 else "\n"
        nxt = text[end] if end < len(text) else "\n"
        if before in NAME_BREAK and (nxt in NAME_BREAK or nxt in "等同说表"):
            return True
    return False


def _unit_split(text: str, end: int, word: str) -> bool:
    """True when a full name's unit character starts the next word: 新建区域 is "new area",
    not 新建区; 新兴县域 is not 新兴县."""
    return end < len(text) and word[-1] in "区區县縣" and text[end] in "域间間块塊段位"


def _split_word(
    text: str, start: int, end: int, covered: bytearray, bigrams: frozenset[str]
) -> bool:
    """True when a weak name shares an edge character with a frequent word (平台中, 台中央):
    it was cut out of the middle of other words. A neighbouring place name does not count
    (广西南宁 is two places, although 西南 is a word)."""
    if start > 0 and not covered[start - 1] and text[start - 1 : start + 1] in bigrams:
        return True
    return end < len(text) and not covered[end] and text[end - 1 : end + 1] in bigrams


def _home_units(gaz: Gazetteer, home: str | None) -> dict[str, str]:
    """Unit character -> code along the home lineage, most specific first (区 -> 武进区)."""
    units: dict[str, str] = {}
    for d in gaz.lineage(home) if home else ():
        unit = d.name[-1]
        if unit in UNITS and unit not in units:
            units[unit] = d.code
    return units


def _licensed(c: _Cand, context: set[str], home: str | None) -> int:
    """How specific the context that licenses a candidate is: 9 when it is itself in
    context, else the depth of its nearest ancestor in context; -1 when nothing licenses it."""
    if c.kind == LOCAL:
        ok = home is not None and (c.code == home or any(a == home for a, _ in c.anchors))
        return 9 if ok else -1
    if c.code in context:
        return 9
    return next((depth for a, depth in c.anchors if a in context), -1)


def _adjacent(mentions: list[_Mention], found: dict, i: int, body: str) -> str | None:
    """The code resolved right before mention i, touching it (江苏|太仓, 南通市|崇川区)."""
    if i == 0 or i - 1 not in found:
        return None
    prev, cur = mentions[i - 1], mentions[i]
    gap = body[prev.end : cur.start]
    return found[i - 1][0].code if gap in ("", "省", "市", "县", "区") else None


def _resolve(
    cands: tuple[_Cand, ...],
    context: set[str],
    home: str | None,
    gaz: Gazetteer,
    before: str | None = None,
) -> tuple[_Cand | None, bool]:
    """The one candidate this mention means (None while still ambiguous), and whether
    context was needed to choose it. A name written right after one of its ancestors
    (江苏太仓, 广西兴安) is licensed by it even when context would not be enough."""
    strength = {c.code: _licensed(c, context, home) for c in cands}
    near = [c for c in cands if strength[c.code] >= 0]
    if before and not near:
        near = [c for c in cands if any(a.code == before for a in gaz.ancestors(c.code))]
    if len(near) > 1:
        # The most specific context wins (辽源's 西安区 over 西安市 in a 辽源 paper); on a tie
        # the larger unit (和田 in a 新疆 story is 和田地区 before 和田市).
        best = max(strength[c.code] for c in near)
        near = [c for c in near if strength[c.code] == best]
        near = [c for c in near if c.depth == min(x.depth for x in near)]
    if len(near) == 1:
        return near[0], len(cands) > 1 or not near[0].free
    if near:
        return None, False
    free = [c for c in cands if c.free]
    if len(free) > 1:
        # 吉林 is the province before the city; 江北区 the current name before a former one.
        top = min(c.depth for c in free)
        free = [c for c in free if c.depth == top] if any(c.kind == SHORT for c in free) else free
        named = [c for c in free if c.kind != FORMER]
        free = named if len(named) == 1 else free
    return (free[0] if len(free) == 1 else None), False


def tag_regions(
    title: str, text: str, *, gazetteer: Gazetteer, home: str | None = None
) -> tuple[RegionTag, ...]:
    """The regions an article is about, every ancestor level included, best first."""
    gaz = gazetteer
    m = matcher_for(gaz)
    home = gaz.current(home) if home else None
    if home and gaz.get(home) is None:
        home = None
    body = f"{title}\n\n{text}" if title else text
    title_end = len(title) if title else 0
    units = _home_units(gaz, home)

    hits = _scan(m, body)
    covered = bytearray(len(body))
    for start, end, kind, _word, _payload in hits:
        if kind == 0:
            covered[start:end] = b"\x01" * (end - start)
    mentions: list[_Mention] = []
    refs: list[tuple[int, str, str]] = []  # (start, matched text, code)
    for start, end, kind, word, payload in hits:
        if kind == 0:
            cands = payload
            if _unit_split(body, end, word):
                continue
            if any(c.weak for c in cands):
                if _guarded(body, start, end):
                    cands = tuple(c for c in cands if not c.weak)
                elif _split_word(body, start, end, covered, m.bigrams):
                    # Province names are robust enough: 广西南部 is still 广西.
                    cands = tuple(c for c in cands if not c.weak or c.depth == 0)
            if cands:
                mentions.append(_Mention(start, end, word, cands))
        elif kind == 2 and units:
            unit, unit_first = payload
            code = units.get(unit)
            if code is None:
                continue
            if unit_first and start > 0 and body[start - 1] in REF_BAD_PREV.get(unit, ()):
                continue
            if not unit_first and end < len(body) and body[end] in REF_BAD_NEXT:
                continue
            refs.append((start, word, code))

    context: set[str] = {d.code for d in gaz.lineage(home)} if home else set()
    found: dict[int, tuple[_Cand, bool]] = {}
    pending = list(range(len(mentions)))
    while pending:
        still = []
        for i in pending:
            before = _adjacent(mentions, found, i, body)
            c, by_context = _resolve(mentions[i].cands, context, home, gaz, before)
            if c is None:
                still.append(i)
                continue
            found[i] = (c, by_context)
            context.update(d.code for d in gaz.lineage(c.code))
        if len(still) == len(pending):
            break
        pending = still
    return _rank(gaz, body, title_end, mentions, found, refs, home)


def _rank(
    gaz: Gazetteer,
    body: str,
    title_end: int,
    mentions: list[_Mention],
    found: dict[int, tuple[_Cand, bool]],
    refs: list[tuple[int, str, str]],
    home: str | None,
) -> tuple[RegionTag, ...]:
    weight: dict[str, float] = {}
    evidence: dict[str, list[Evidence]] = {}
    body_hits: dict[str, int] = {}
    for i, (c, by_context) in sorted(found.items()):
        mention = mentions[i]
        ev = evidence.setdefault(c.code, [])
        if mention.start < title_end:
            w = 2.0 if not any(e.start < title_end and e.start >= 0 for e in ev) else 0.0
        else:
            n = body_hits[c.code] = body_hits.get(c.code, 0) + 1
            w = 1.0 if n == 1 else 0.5 if n <= 5 else 0.0
            if n == 1 and mention.start - title_end < 150:
                w += 0.5
        weight[c.code] = weight.get(c.code, 0.0) + w
        rule = "parent-context" if by_context and c.kind != LOCAL else _KIND_RULE[c.kind]
        if len(ev) < 5:
            ev.append(Evidence(mention.text, mention.start, rule))
    from_refs: dict[str, float] = {}
    for start, word, code in refs:
        w = 0.5 if start >= title_end else 1.0
        # Self-references are routine in local copy (市委, 全市): they confirm, not dominate.
        from_refs[code] = min(1.5, from_refs.get(code, 0.0) + w)
        ev = evidence.setdefault(code, [])
        if len(ev) < 5:
            ev.append(Evidence(word, start, "home-ref"))
    for code, w in from_refs.items():
        weight[code] = weight.get(code, 0.0) + w
    if home and home not in weight and _home_applies(gaz, home, weight):
        weight[home] = 1.0
        evidence.setdefault(home, []).append(Evidence("", -1, "home"))
    if not weight:
        return ()
    best = max(weight.values())
    final: dict[str, float] = {}
    for code, w in weight.items():
        s = (1.0 - math.exp(-w / 2.0)) * (0.5 + 0.5 * w / best)
        for d in gaz.lineage(code):
            if s > final.get(d.code, 0.0):
                final[d.code] = s
            if d.code != code and d.code not in evidence:
                first = evidence[code][0]
                evidence[d.code] = [Evidence(first.text, first.start, "within")]
    tags = []
    for code, s in final.items():
        d = gaz.get(code)
        if d is None:
            continue
        tags.append(
            RegionTag(
                code=code,
                name=d.name,
                level=d.level,
                score=round(min(1.0, s), 3),
                evidence=tuple(evidence.get(code, ())),
                parent=d.parent,
            )
        )
    tags.sort(key=lambda t: (-t.score, -DEPTH[t.level], t.code))
    return tuple(tags)


def _home_applies(gaz: Gazetteer, home: str, weight: dict[str, float]) -> bool:
    """A local outlet's article is about its home unless it names places elsewhere and
    nothing inside the home (its own self-references count as names of what they mean)."""
    if not weight:
        return True
    home_line = {d.code for d in gaz.lineage(home)}
    if any(home in {d.code for d in gaz.lineage(code)} for code in weight):
        return True
    return all(code in home_line for code in weight)
