"""Region tagging: levels, home context, short and shared names, old codes, false-hit guards,
scores and evidence, and quality on the hand-labelled seeds.

The sentences below are written for these tests in the style of county and district papers;
the seed checks read ../shared at test time and skip when it is absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.gazetteer import Division, Gazetteer, build_gazetteer
from aggregator.gazetteer_import import import_divisions
from aggregator.model import RegionTag
from aggregator.tag_regions import tag_regions

SHARED = Path(__file__).resolve().parents[2] / "shared"

# Townships as an import would bring them (a second 文峰街道 makes the name shared).
TOWNS = [
    ("320412100", "湖塘镇", "320412"),
    ("320412102", "牛塘镇", "320412"),
    ("320412103", "洛阳镇", "320412"),
    ("320613001", "城东街道", "320613"),
    ("320613008", "文峰街道", "320613"),
    ("320613009", "观音山街道", "320613"),
    ("320981001", "城东街道", "320981"),
    ("410502001", "文峰街道", "410502"),
    ("411471101", "贾寨镇", "411471"),
]


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return build_gazetteer([Division(c, n, "town", p, origin="nbs") for c, n, p in TOWNS])


def codes(tags: tuple[RegionTag, ...]) -> set[str]:
    return {t.code for t in tags}


def tag(
    gaz: Gazetteer, text: str, title: str = "", home: str | None = None
) -> dict[str, RegionTag]:
    return {t.code: t for t in tag_regions(title, text, gazetteer=gaz, home=home)}


# ------------------------------------------------------------------ levels and the tree


def test_a_township_brings_its_county_city_and_province(gaz: Gazetteer) -> None:
    tags = tag(gaz, "昨天上午，湖塘镇召开村级集体经济发展推进会，部署下半年重点工作。")
    assert {"320412100", "320412", "320400", "320000"} <= set(tags)
    assert [tags[c].level for c in ("320412100", "320412", "320400", "320000")] == [
        "town",
        "county",
        "city",
        "province",
    ]
    assert tags["320412100"].parent == "320412"
    assert tags["320412"].evidence[0].rule == "within"


def test_full_names_count_anywhere_and_longest_match_wins(gaz: Gazetteer) -> None:
    tags = tag(gaz, "记者从南通市崇川区获悉，该区今年新增停车位一万个。")
    assert {"320613", "320600", "320000"} <= set(tags)
    assert tags["320613"].evidence[0].text == "崇川区"
    # 江北新区 is the zone, not 江北区 (宁波) nor 江北 as a short name.
    tags = tag(gaz, "江北新区今年引进集成电路项目二十个。")
    assert "Z320100-jbxq" in tags and "330205" not in tags


def test_project_zone_is_tagged_with_its_city(gaz: Gazetteer) -> None:
    tags = tag(gaz, "商丘示范区召开项目建设推进会。")
    assert {"Z411400-sqsfq", "411400", "410000"} <= set(tags)


# ------------------------------------------------------------------ home region


def test_self_references_resolve_through_the_home_region(gaz: Gazetteer) -> None:
    text = (
        "昨天下午，我区召开安全生产工作会议。市委常委、区委书记出席并讲话，要求全区上下压实责任。"
    )
    tags = tag(gaz, text, home="320412")
    assert {"320412", "320400", "320000"} <= set(tags)
    rules = {e.rule for e in tags["320412"].evidence}
    assert "home-ref" in rules
    assert any(e.text == "市委" for e in tags["320400"].evidence)
    assert tag(gaz, text) == {}  # without a home, 我区 means nothing


def test_city_self_references_do_not_guess_a_district(gaz: Gazetteer) -> None:
    tags = tag(gaz, "区委书记在全市会议上作交流发言。", home="320400")
    assert set(tags) == {"320400", "320000"}


def test_bare_zone_name_counts_for_the_zones_own_outlet(gaz: Gazetteer) -> None:
    text = "示范区党工委召开巡察工作动员会，对区直单位开展常规巡察。"
    assert "Z411400-sqsfq" in tag(gaz, text, home="Z411400-sqsfq")
    assert "Z411400-sqsfq" in tag(gaz, text, home="411400")  # the city paper too
    assert "Z411400-sqsfq" not in tag(gaz, text, home="411600")  # 周口 has its own 示范区


def test_home_applies_when_nothing_else_is_named(gaz: Gazetteer) -> None:
    tags = tag(gaz, "村“两委”换届选举工作有序推进。", home="Z411400-sqsfq")
    assert {"Z411400-sqsfq", "411400", "410000"} == set(tags)
    assert tags["Z411400-sqsfq"].evidence[0].rule == "home"
    assert tags["Z411400-sqsfq"].evidence[0].start == -1


def test_home_does_not_apply_to_a_story_only_about_elsewhere(gaz: Gazetteer) -> None:
    tags = tag(gaz, "省委常委会在南京召开会议。", home="320400")
    assert "320100" in tags and "320400" not in tags


def test_old_home_code_is_mapped(gaz: Gazetteer) -> None:
    tags = tag(gaz, "我区召开老旧小区改造推进会。", home="320602")
    assert "320613" in tags


# ------------------------------------------------------------------ short and shared names


def test_county_short_name_needs_its_city_or_province_in_context(gaz: Gazetteer) -> None:
    text = "武进经验在会上作交流。"
    assert "320412" not in tag(gaz, text)
    assert "320412" in tag(gaz, text, home="320400")  # the city paper
    assert "320412" in tag(gaz, "常州召开现场会，武进经验在会上作交流。")  # city named
    assert "320412" in tag(gaz, "江苏省召开现场会，武进经验在会上作交流。")  # province named
    assert "320412" not in tag(gaz, "浙江省召开现场会，武进经验在会上作交流。")
    assert "320412" in tag(gaz, "江苏武进：智能制造企业加速扩产")  # written after its province


def test_shared_township_names_resolve_only_through_context(gaz: Gazetteer) -> None:
    text = "文峰街道组织志愿者开展垃圾分类宣传。"
    assert "320613008" not in tag(gaz, text)
    assert "410502001" not in tag(gaz, text)
    assert "320613008" in tag(gaz, text, home="320613")
    assert "320613008" in tag(gaz, "崇川区文峰街道组织志愿者开展垃圾分类宣传。")
    tags = tag(gaz, "城东街道党工委书记介绍，辖区老旧小区已全部完成改造。", home="320613")
    assert "320613001" in tags and "320981001" not in tags


def test_township_short_name_needs_its_county(gaz: Gazetteer) -> None:
    text = "在观音山老镇区，老牌饭店主动安装油烟净化设备。"
    assert "320613009" in tag(gaz, text, home="320613")
    assert "320613009" not in tag(gaz, text, home="320600")


def test_former_names_point_at_today_unit(gaz: Gazetteer) -> None:
    tags = tag(gaz, "原港闸区的老工业片区正在改造。")
    assert "320613" in tags and "320611" not in tags


def test_traditional_characters(gaz: Gazetteer) -> None:
    tags = tag(gaz, "廣東省核應急委員會辦公室表示，大亞灣核電站運行正常。")
    assert "440000" in tags
    assert "820000" in tag(gaz, "本澳居民到內地旅遊，澳門特區政府提醒注意安全。")


# ------------------------------------------------------------------ false-hit guards


def test_street_name_is_not_the_province(gaz: Gazetteer) -> None:
    assert "410000" not in tag(gaz, "环濠河南大街片区提升项目正在紧张施工。", home="320613")


def test_person_name_is_not_the_county(gaz: Gazetteer) -> None:
    text = "上海市有关负责同志和陈中锋、严崇明、江建春等出席。"
    tags = tag(gaz, text)
    assert "310000" in tags  # 上海 is in context...
    assert "310151" not in tags  # ...but 严崇明 is a person, not 崇明区
    assert "310151" in tag(gaz, "上海崇明区推进生态岛建设。")


def test_organisation_is_not_the_county(gaz: Gazetteer) -> None:
    text = "湖北荆州市民反映问题后，公安分局民警迅速到场处置。"
    assert "421022" not in tag(gaz, text)  # 公安县
    assert "421022" in tag(gaz, "湖北荆州公安县遭遇强降雨。")


def test_estate_is_not_the_city(gaz: Gazetteer) -> None:
    text = "海南省多地开展老旧小区整治，东方花苑已安装道闸两处。"
    assert "469007" not in tag(gaz, text)  # 东方市
    assert "469007" in tag(gaz, "海南东方市推进热带农业发展。")


def test_idiom_is_not_the_city(gaz: Gazetteer) -> None:
    text = "甘肃省出台措施，考核靠前的单位将得到真金白银的奖励。"
    assert "620400" not in tag(gaz, text)  # 白银市
    assert "620400" in tag(gaz, "甘肃白银推进资源型城市转型。")


def test_same_name_township_is_not_the_city(gaz: Gazetteer) -> None:
    tags = tag(gaz, "洛阳镇召开全镇安全生产大会。")
    assert "410300" not in tags  # 洛阳市
    assert "320412103" in tags


@pytest.mark.parametrize(
    "text, wrong",
    [
        ("记者在平台中看到，多家企业发布招聘信息。", "710000"),  # 台中
        ("附近新兴店铺林立，分布着大量餐饮场所。", "445321"),  # 新兴县
        ("南京大学的专家应邀授课。", "320100"),  # an organisation, not the city
        ("各地要依托历史和红色资源发展文旅项目。", "450329"),  # 资源县
        ("全市上下同心协力，确保安宁、安全的环境。", "530181"),  # 安宁市
        ("政设施比较落后的新建区域正在改造。", "360112"),  # 新建区
        ("柬埔寨副总理兼外交部长沙伦赛会见中方代表。", "430100"),  # 部长 + 沙伦赛, not 长沙
        ("苏州企业家说，他对这里的产业非常熟悉。", "320581"),  # 常熟 inside 非常熟悉
        ("颱風轉向偏東方向移動，各區居民注意防風。", "469007"),  # 東方市 in 偏東方向
    ],
)
def test_words_that_hide_place_names(gaz: Gazetteer, text: str, wrong: str) -> None:
    assert wrong not in tag(gaz, text)


# ------------------------------------------------------------------ scores and evidence


def test_scores_reflect_centrality(gaz: Gazetteer) -> None:
    title = "武进区召开科技招商推进会"
    text = (
        "昨天下午，武进区召开科技招商推进会。会议强调，武进区要打好科技招商组合拳。"
        "苏州工业园区的专家应邀授课。"
    )
    tags = tag(gaz, text, title=title)
    assert tags["320412"].score > tags["320576"].score
    assert all(0.0 <= t.score <= 1.0 for t in tags.values())
    # An ancestor is at least as central as what it contains.
    assert tags["320400"].score >= tags["320412"].score
    ranked = tag_regions(title, text, gazetteer=gaz)
    assert ranked == tuple(sorted(ranked, key=lambda t: -t.score))


def test_evidence_points_into_title_and_text(gaz: Gazetteer) -> None:
    title = "湖塘镇开展消防检查"
    text = "近日，湖塘镇对辖区企业开展消防安全检查。常州市应急管理局派员指导。"
    combined = f"{title}\n\n{text}"
    for t in tag_regions(title, text, gazetteer=gaz, home="320412"):
        for e in t.evidence:
            if e.start >= 0 and e.rule != "within":
                assert combined[e.start : e.start + len(e.text)] == e.text


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "武进区",
                "我区",
                "南通",
                "文峰街道",
                "真金白银",
                "河南",
                "大街",
                "严崇明",
                "、",
                "市委",
            ]
        )
        | st.text(alphabet="的了在是区市县镇中国人大一", max_size=6),
        max_size=30,
    )
)
def test_any_text_gives_valid_tags(gaz: Gazetteer, parts: list[str]) -> None:
    text = "".join(parts)
    tags = tag_regions("", text, gazetteer=gaz, home="320412")
    for t in tags:
        assert 0.0 <= t.score <= 1.0
        assert gaz.get(t.code) is not None
        for e in t.evidence:
            assert e.start == -1 or text[e.start : e.start + len(e.text)] == e.text


# ------------------------------------------------------------------ the hand-labelled seeds

HOMES = {"000": "320400", "001": "320613", "002": "320412", "003": "320613", "004": "Z411400-sqsfq"}
# Places the seed pages really name beside their own (checked by reading them).
ALSO_NAMED = {"001": {"610700", "610000"}, "002": {"320576", "320500"}}


@pytest.fixture(scope="module")
def seed_gaz() -> Gazetteer:
    geo = SHARED / "geodata"
    if not (geo / "streets.csv").exists():
        pytest.skip("../shared/geodata not present")
    rows = import_divisions(geo / "streets.csv")
    rows += import_divisions(geo / "areacity" / "ok_data_level4.csv")
    return build_gazetteer(rows)


def seeds() -> list[tuple[str, str, dict]]:
    path = SHARED / "seeds" / "expected.json"
    if not path.exists():
        return []
    expected = json.loads(path.read_text(encoding="utf-8"))["files"]
    out = []
    for name, info in sorted(expected.items()):
        text = re.sub(r"<[^>]+>", "", (path.parent / name).read_text(encoding="utf-8"))
        out.append((name[:3], text, info))
    return out


def allowed(gaz: Gazetteer, key: str, info: dict) -> set[str]:
    """The seed's regions, what contains them and what they contain, and its real asides."""
    out = set(ALSO_NAMED.get(key, ()))
    for code in [*info["regions"], HOMES[key]]:
        out.update(d.code for d in gaz.lineage(code))
    return out


def inside(gaz: Gazetteer, code: str, regions: set[str]) -> bool:
    return any(d.code in regions for d in gaz.lineage(code))


@pytest.mark.parametrize(
    "key, text, info", seeds() or [pytest.param("", "", {}, marks=pytest.mark.skip)]
)
def test_seed_pages(seed_gaz: Gazetteer, key: str, text: str, info: dict) -> None:
    home = HOMES[key]
    ok = allowed(seed_gaz, key, info)
    county = info["regions"][-1]  # the most specific region listed
    page = tag_regions("", text, gazetteer=seed_gaz, home=home)
    assert county in codes(page)
    best = max((t for t in page if t.level in ("county", "city")), key=lambda t: t.score)
    assert inside(seed_gaz, county, {best.code}) or best.code == county
    for t in page:
        assert t.code in ok or inside(seed_gaz, t.code, set(info["regions"])), t
    # Every paragraph too: no region the page is not about, short of its real asides.
    for para in re.split(r"\n\s*\n", text):
        for t in tag_regions("", para, gazetteer=seed_gaz, home=home):
            assert t.code in ok or inside(seed_gaz, t.code, set(info["regions"])), (t, para)
    # Each article, cut out of the page by its first and last words, gets the page's region.
    for art in info["articles"]:
        start, end = text.find(art["starts"]), text.find(art["ends"])
        if start < 0 or end < 0:
            continue
        body = text[start : end + len(art["ends"])]
        tags = tag_regions(art["title"], body, gazetteer=seed_gaz, home=home)
        assert county in codes(tags), art["title"]


def test_seed_townships_are_found_under_their_county(seed_gaz: Gazetteer) -> None:
    pages = {key: text for key, text, _ in seeds()}
    if "002" not in pages:
        pytest.skip("../shared/seeds not present")
    tags = {t.name: t for t in tag_regions("", pages["002"], gazetteer=seed_gaz, home="320412")}
    for town in ("湖塘镇", "南夏墅街道"):
        assert town in tags
        assert seed_gaz.get(tags[town].code).parent == "320412"
    tags = {t.name: t for t in tag_regions("", pages["003"], gazetteer=seed_gaz, home="320613")}
    for town in ("学田街道", "观音山街道", "虹桥街道", "城东街道", "秦灶街道", "陈桥街道"):
        assert seed_gaz.get(tags[town].code).parent == "320613"
    assert "469007" not in codes(tuple(tags.values()))  # 东方花苑
    tags = tag_regions("", pages["004"], gazetteer=seed_gaz, home="Z411400-sqsfq")
    assert "贾寨镇" in {t.name for t in tags}


# -- the matcher: the fast backend finds exactly what pyahocorasick finds -------------------------


def _texts_for_matching(words: list[str]) -> list[str]:
    """Texts of this file's sentences, the shared corpus when present, and random runs of the
    gazetteer's own words and their pieces (overlaps everywhere)."""
    import random

    texts = [TEXT_FOR_MATCHING]
    corpus = SHARED / "corpus-dev" / "articles.jsonl"
    if corpus.exists():
        for line in corpus.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            texts.append(f"{rec.get('title') or ''}\n\n{rec['body']}")
    rng = random.Random(3)
    pieces = words + [w[: len(w) // 2] for w in words] + list("的，。、区市县镇路（）\n")
    texts += ["".join(rng.choice(pieces) for _ in range(80)) for _ in range(1500)]
    return texts


TEXT_FOR_MATCHING = (
    "武进区湖塘镇召开安全生产工作会议，牛塘镇、洛阳镇负责人参加。常州市武进区委书记强调，"
    "南通市崇川区文峰街道与观音山街道联合开展反诈宣传，新华社记者在江苏太仓采访。"
)


def test_every_backend_finds_the_same_words(gaz: Gazetteer) -> None:
    from aggregator.multimatch import WordMatcher
    from aggregator.tag_regions import matcher_for

    fast = matcher_for(gaz).automaton
    if fast.backend != "rs":
        pytest.skip("ahocorasick_rs is not installed: pyahocorasick is the only backend")
    words = {w: fast.get(w) for w in fast}
    slow = WordMatcher(words, backend="py")
    for text in _texts_for_matching(list(words)):
        assert sorted(fast.find(text), key=repr) == sorted(slow.find(text), key=repr), text
