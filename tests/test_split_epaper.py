"""The e-paper splitter on the shared seed pages, on our own pages in other outlets' styles
(tests/fixtures/epaper: each .txt with its expectations in a .json beside it), on pages made of
the shared corpus's real articles, and on generated pages: it never fails and loses no text."""

from __future__ import annotations

import html
import json
import random
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.model import ARTICLE, PHOTO, Entry
from aggregator.split_epaper import finished, split_page

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEEDS = SHARED / "seeds"
FIXTURES = Path(__file__).parent / "fixtures" / "epaper"


def squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


def blocks(entry: Entry) -> list[tuple[str, str]]:
    """(tag, text) of each block of the entry's HTML, in order."""
    return [
        (tag, html.unescape(text))
        for tag, text in re.findall(r"<(p|h3)>(.*?)</\1>", entry.content_html, re.S)
    ]


def headline(entry: Entry) -> list[str]:
    return [x for x in (entry.kicker, entry.title, entry.subtitle) if x]


def article_mismatches(entry: Entry, want: dict) -> list[str]:
    """Which of the expected fields the entry gets wrong (empty when it matches)."""
    wrong = []
    want_lines = [want[k] for k in ("kicker", "title", "subtitle") if want.get(k)]
    # kicker+title and title+subtitle are both right when the lines are whole and in order
    if headline(entry) != want_lines:
        wrong.append(f"headline {headline(entry)} != {want_lines}")
    if " ".join(entry.reporters) != (want.get("byline") or ""):
        wrong.append(f"byline {entry.reporters} != {want.get('byline')}")
    body = squeeze(entry.text)
    if not body.startswith(squeeze(want["starts"])):
        wrong.append(f"starts {entry.text[:30]!r}")
    if not body.endswith(squeeze(want["ends"])):
        wrong.append(f"ends {entry.text[-30:]!r}")
    subheads = [text for tag, text in blocks(entry) if tag == "h3"]
    if subheads != want.get("subheads", []):
        wrong.append(f"subheads {subheads}")
    if entry.truncated != bool(want.get("truncated")):
        wrong.append(f"truncated {entry.truncated}")
    for piece in want.get("contains", []):
        if squeeze(piece) not in body:
            wrong.append(f"missing {piece!r}")
    if "section" in want and entry.categories[:1] != (want["section"],):
        wrong.append(f"section {entry.categories}")
    if "column" in want and want["column"] not in entry.categories:
        wrong.append(f"column {entry.categories}")
    return wrong


def photo_mismatches(entry: Entry, want: dict) -> list[str]:
    wrong = []
    if "title" in want and entry.title != want["title"]:
        wrong.append(f"title {entry.title!r}")
    if "caption" in want and squeeze(entry.text) != squeeze(want["caption"]):
        wrong.append(f"caption {entry.text!r}")
    if "caption_starts" in want and not squeeze(entry.text).startswith(
        squeeze(want["caption_starts"])
    ):
        wrong.append(f"caption {entry.text[:30]!r}")
    if " ".join(entry.reporters) != want["credit"]:
        wrong.append(f"credit {entry.reporters}")
    if "section" in want and want["section"] not in entry.categories:
        wrong.append(f"section {entry.categories}")
    return wrong


def check_page(entries: tuple[Entry, ...], want: dict) -> None:
    articles = [e for e in entries if e.type == ARTICLE]
    photos = [e for e in entries if e.type == PHOTO]
    assert len(articles) == len(want["articles"]), [headline(e) for e in articles]
    for entry, expected in zip(articles, want["articles"], strict=True):
        assert article_mismatches(entry, expected) == [], entry.title
    assert len(photos) == len(want.get("photos", [])), [p.text[:20] for p in photos]
    for entry, expected in zip(photos, want.get("photos", []), strict=True):
        assert photo_mismatches(entry, expected) == [], entry.text[:20]
    assert [e.position for e in entries] == list(range(1, len(entries) + 1))


def table_row(text: str) -> bool:
    """A row of a table flattened to text: three or more cells apart by spaces."""
    return len(re.findall(r"\S\s+(?=\S)", text)) >= 2


def no_broken_paragraphs(entry: Entry) -> list[str]:
    """Paragraphs that stop mid-sentence although they are neither a subhead, a table row nor
    the cut end."""
    paras = blocks(entry)
    return [
        text
        for i, (tag, text) in enumerate(paras)
        if tag == "p"
        and not finished(text)
        and not table_row(text)
        and not (entry.truncated and i == len(paras) - 1)
    ]


# Lines that are page furniture, recognised here independently of the splitter: editors,
# page headers and numbers, dates, notes on who took a page's photos.
FURNITURE = re.compile(
    r"^(?:(?:责任编辑|责编|编辑|美编|校对|版式|组版|审读|审校|审核|终审|值班主任|版面设计|排版"
    r"|主编|本版编辑|本版责编|一审|二审|三审|制作|设计|照排)\s*[:：]"
    r"|.{0,12}第?\s*[A-Za-z]?[0-9０-９一二三四五六七八九十]{1,3}\s*版.{0,60}$"
    r"|[A-Za-z]?[0-9]{1,3}$"
    r"|[A-Za-z]?[0-9]{1,3}\s.{0,40}[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日.*$"
    r"|[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日\s*(?:星期.)?$"
    r"|[(（]?(?:本栏|本版|本组|本期|以上)(?:照片|图片)(?:均|由)"
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}\s*(?:星期.)?$"
    r"|(?:(?:首页|上一期|下一期|往期回顾|本版标题导航|PDF版|在线投稿)[\s|]*)+$"
    r"|[A-Z ]+$|www\.\S+$|新闻热线|[A-Za-z]?[0-9]{1,3}\s+\S{2,6}$"
    r")"
)
# section and column labels become the categories of the items under them (the pages above
# check that); one with no item under it has nothing to name, so labels are not counted here
LABEL = re.compile(r"^(?:【[^】]{1,12}】|·[^·]{2,6}·|简讯|短讯|图片新闻|视觉新闻)$")
# words that name a role rather than carry content (bylines, leads, credits, jump markers)
ROLE_WORDS = re.compile(
    r"本[报刊台网]\S{0,12}?[讯电]|(?:据)?新华社\S{0,10}?电|\S{0,6}?(?:日报|晚报|新闻网|在线)\S{0,8}?讯"
    r"|(?:本报|新华社|融媒体?|全媒体|首席|见习|实习|特约)*(?:记者|通讯员|实习生|评论员|作者)"
    r"|(?<=\s)来源\s*[:：]\s*\S+$"  # the outlet's own name after a byline
    r"|[文图]\s*[/／]|摄影?|报道|整理|[(（]?\s*(?:上接|下转|紧接|转|接)第?\s*[A-Za-z]?"
    r"[0-9一二三四五六七八九十]+\s*版\s*[)）]?|[(（]\s*完\s*[)）]"
)
# what is left of a role word that a line break cut in two (`通讯` / `员 何佩）`)
ROLE_PIECES = "本报讯记者通讯员实习生评论员摄影报道"
SEPARATORS = r"[\s()（）【】〔〕\[\]·•●■◆▲□◎★☆▶►◇△◀▼▽←→↑↓、,，:：;；①-⑩]+"


def lost_text(page: str, entries: tuple[Entry, ...]) -> list[str]:
    """Pieces of the page that are in no entry: each line that is not furniture, less its role
    words and separators, must survive as runs of text in some title, kicker, subtitle, text,
    reporters or category. Column breaks may join runs; they never remove one (only the pieces
    of a role word they cut in two are let go)."""
    kept = squeeze(
        "".join(
            "".join(filter(None, [e.kicker, e.title, e.subtitle, e.text, *e.reporters]))
            + "".join(e.categories)
            for e in entries
        )
    )
    missing = []
    for raw in page.splitlines():
        line = raw.strip()
        if not line or FURNITURE.match(line) or LABEL.match(line):
            continue
        for run in re.split(SEPARATORS, ROLE_WORDS.sub(" ", line)):
            if run and run not in kept and _unpieced(run) not in kept:
                missing.append(run)
    return missing


def _unpieced(run: str) -> str:
    """A run less up to two characters at either end that are pieces of a role word a line
    break cut in two (`者县委` from `记` / `者县委`)."""
    for _ in range(2):
        if run[:1] and run[0] in ROLE_PIECES:
            run = run[1:]
        if run[-1:] and run[-1] in ROLE_PIECES:
            run = run[:-1]
    return run


def seed_cases() -> list[str]:
    if not (SEEDS / "expected.json").exists():
        return []
    files = json.loads((SEEDS / "expected.json").read_text("utf-8"))["files"]
    return sorted(name for name, spec in files.items() if spec["kind"] == "epaper-page")


@pytest.fixture(scope="module")
def expected() -> dict:
    if not (SEEDS / "expected.json").exists():
        pytest.skip("shared seeds not present")
    return json.loads((SEEDS / "expected.json").read_text("utf-8"))["files"]


@pytest.mark.parametrize("name", seed_cases() or ["(no shared seeds)"])
def test_seed_pages_split_as_expected(name: str, expected: dict) -> None:
    entries = split_page((SEEDS / name).read_text("utf-8"))
    check_page(entries, expected[name])


@pytest.mark.parametrize("name", seed_cases() or ["(no shared seeds)"])
def test_seed_pages_leave_no_mid_sentence_breaks(name: str, expected: dict) -> None:
    for entry in split_page((SEEDS / name).read_text("utf-8")):
        if entry.type == ARTICLE:
            assert no_broken_paragraphs(entry) == [], entry.title


@pytest.mark.parametrize("name", seed_cases() or ["(no shared seeds)"])
def test_seed_pages_lose_no_text(name: str, expected: dict) -> None:
    page = (SEEDS / name).read_text("utf-8")
    assert lost_text(page, split_page(page)) == []


@pytest.mark.parametrize("page", sorted(FIXTURES.glob("*.txt")), ids=lambda p: p.stem)
def test_own_pages_split_as_expected(page: Path) -> None:
    want = json.loads(page.with_suffix(".json").read_text("utf-8"))
    text = page.read_text("utf-8")
    entries = split_page(text)
    check_page(entries, want)
    for entry in entries:
        if entry.type == ARTICLE:
            assert no_broken_paragraphs(entry) == [], entry.title
    assert lost_text(text, entries) == []


def test_column_break_inside_a_word_is_joined() -> None:
    page = "区里召开会议\n\n要加快改造老旧管网、既\n\n有道路和公共照明设施。\n\n·张伟·\n"
    (entry,) = split_page(page)
    assert entry.text == "要加快改造老旧管网、既有道路和公共照明设施。"
    assert entry.reporters == ("张伟",)


def test_jump_markers_are_removed_and_mark_the_article_cut() -> None:
    page = (FIXTURES / "jumps.txt").read_text("utf-8")
    entries = split_page(page)
    assert not any(re.search(r"[上下]?[转接]第?\d+版", e.text + e.title) for e in entries)
    assert entries[-1].truncated
    assert not entries[0].truncated


def test_jump_marker_on_its_own_line() -> None:
    page = (
        "甲文标题\n\n甲文正文说完了。\n\n（下转第2版）\n\n"
        "乙文标题\n\n乙文正文说完了。\n\n（上接第1版）\n\n丙文接续的正文。\n"
    )
    first, second, third = split_page(page)
    assert first.truncated and first.text == "甲文正文说完了。"
    assert not second.truncated and second.text == "乙文正文说完了。"
    assert third.text == "丙文接续的正文。"


def test_keys_are_stable_and_do_not_depend_on_position() -> None:
    page = (FIXTURES / "cut_off.txt").read_text("utf-8")
    first = split_page(page)
    again = split_page(page)
    assert [e.key for e in first] == [e.key for e in again]
    assert len({e.key for e in first}) == len(first)
    shifted = split_page("新设的标题在最前面\n\n这是一篇新插入的稿件。\n\n·李明·\n\n" + page)
    assert [e.key for e in shifted[1:]] == [e.key for e in first]
    assert [e.position for e in shifted[1:]] == [e.position + 1 for e in first]
    assert all(k.startswith("epaper:") for k in (e.key for e in first))


def test_same_headline_in_another_issue_is_another_item() -> None:
    page = "民生热线\n\n本报讯（记者 王芳）本周接到来电36个。\n"
    monday = split_page(page, issue_date=date(2022, 3, 7))[0].key
    assert split_page(page, issue_date=date(2022, 3, 7))[0].key == monday
    assert split_page(page, issue_date=date(2022, 3, 14))[0].key != monday


def test_page_numbers_and_headers_are_not_content() -> None:
    page = "A2\n\n02\n\n第2版：要闻\n\n标题一行\n\n正文一句。\n\n责任编辑：张三\n"
    (entry,) = split_page(page)
    assert (entry.title, entry.text) == ("标题一行", "正文一句。")


def test_issue_date_becomes_midnight_in_shanghai() -> None:
    entries = split_page(
        (FIXTURES / "cut_off.txt").read_text("utf-8"), issue_date=date(2022, 3, 11)
    )
    published = entries[0].published
    assert isinstance(published, datetime)
    assert (published.year, published.month, published.day, published.hour) == (2022, 3, 11, 0)
    assert published.utcoffset() == timedelta(hours=8)
    assert split_page("标题\n\n正文一句。")[0].published is None


def test_html_escapes_text_and_marks_subheads() -> None:
    page = (
        "标题行\n\n本报讯（记者 王芳）比较<a>和b&c的结果。\n\n"
        "一是抓落实\n\n前文一句。\n\n二是见成效\n\n后文一句。"
    )
    (entry,) = split_page(page)
    assert "<a>" not in entry.content_html and "&lt;a&gt;" in entry.content_html
    assert blocks(entry) == [
        ("p", "比较<a>和b&c的结果。"),
        ("h3", "一是抓落实"),
        ("p", "前文一句。"),
        ("h3", "二是见成效"),
        ("p", "后文一句。"),
    ]
    assert entry.text.split("\n\n")[1] == "一是抓落实"


def test_a_lone_subhead_is_the_next_article() -> None:
    page = (
        "甲文标题\n\n本报讯（记者 王芳）甲文正文。\n\n乙文标题像个小标题\n\n乙文正文，没有电头。\n"
    )
    first, second = split_page(page)
    assert (first.title, first.text, first.reporters) == ("甲文标题", "甲文正文。", ("王芳",))
    assert (second.title, second.text, second.reporters) == (
        "乙文标题像个小标题",
        "乙文正文，没有电头。",
        (),
    )


def test_names_over_the_title_and_under_a_signature_are_kept() -> None:
    page = (
        "本报讯（记者 王芳）\n\n甲文标题\n\n甲文正文。\n\n文/张明\n\n图/李华\n\n"
        "乙文标题\n\n乙文正文。\n\n·赵刚·"
    )
    first, second = split_page(page)
    assert (first.title, first.reporters) == ("甲文标题", ("王芳", "张明", "李华"))
    assert (second.title, second.reporters) == ("乙文标题", ("赵刚",))


def test_a_title_among_parallel_subheads_starts_the_next_article() -> None:
    page = (
        "河道整治启动\n\n河道整治今天启动。\n\n·邵明·\n\n"
        "实事项目公布\n\n今年实事项目日前公布。\n\n"
        "街道推进基层治理\n\n街道去年以来推进治理。\n\n"
        "织密网格，排查隐患\n\n网格员每天巡查。\n\n"
        "多方联动，化解纠纷\n\n纠纷就地化解。\n\n·许然·"
    )
    titles = [e.title for e in split_page(page)]
    assert titles == ["河道整治启动", "实事项目公布", "街道推进基层治理"]
    third = split_page(page)[2]
    assert [t for tag, t in blocks(third) if tag == "h3"] == [
        "织密网格，排查隐患",
        "多方联动，化解纠纷",
    ]
    assert third.reporters == ("许然",)


def test_a_title_over_a_news_opening_is_not_a_subhead() -> None:
    page = (
        "甲地召开会议\n甲地今天召开会议，研究近期工作。\n"
        "乙地开展检查\n5月3日，乙地开展安全检查。\n"
        "丙地举办活动\n央视网消息（新闻联播）：丙地举办活动。\n"
    )
    assert [e.title for e in split_page(page)] == ["甲地召开会议", "乙地开展检查", "丙地举办活动"]


def test_a_group_credit_credits_the_captions_above_it() -> None:
    page = "图片新闻\n\n图①：工人在作业。\n\n图②：农民在收割。\n\n本组图片均由本报记者 石 峰 摄"
    photos = split_page(page)
    assert [(p.type, p.reporters) for p in photos] == [(PHOTO, ("石峰",)), (PHOTO, ("石峰",))]


def test_a_bracketed_label_over_a_paragraph_stays_in_the_article() -> None:
    (entry,) = split_page("铁路通车\n\n【现象】铁路今天通车。\n\n【点评】\n\n通车意义重大。")
    assert blocks(entry) == [
        ("p", "【现象】铁路今天通车。"),
        ("h3", "【点评】"),
        ("p", "通车意义重大。"),
    ]


def test_table_rows_stay_rows() -> None:
    page = (
        "经济数据发布\n\n一季度经济平稳。\n\n指标 数值 增长\n\n生产总值 268亿元 5.6%\n\n后文一句。"
    )
    (entry,) = split_page(page)
    assert blocks(entry) == [
        ("p", "一季度经济平稳。"),
        ("p", "指标 数值 增长"),
        ("p", "生产总值 268亿元 5.6%"),
        ("p", "后文一句。"),
    ]


def test_headline_words_are_not_taken_for_furniture() -> None:
    page = "设计引领未来\n\n本届设计周开幕。\n\n主编寄语\n\n感谢读者。\n\n编辑 黄蕾"
    assert [e.title for e in split_page(page)] == ["设计引领未来", "主编寄语"]


def test_summary_is_the_start_of_the_body() -> None:
    page = (FIXTURES / "long_feature.txt").read_text("utf-8")
    entry = split_page(page)[0]
    assert entry.summary.startswith("走进经开区智能制造产业园")
    assert len(entry.summary) <= 121
    assert "一、盘活闲置资源" not in entry.summary


def test_empty_and_boilerplate_pages_give_nothing() -> None:
    assert split_page("") == ()
    assert split_page("\n\n责任编辑：张三\n\n2022年3月8日 星期二\n") == ()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(
                alphabet="区县镇召开会议安全生产记者本报讯摄·—（）()，。、“”\n 张王李", max_size=40
            ),
            st.sampled_from(
                ["", "\n", "·张三·", "本报记者 李四", "王五 摄", "简讯", "(下转第2版)"]
            ),
        ),
        max_size=25,
    )
)
def test_split_never_fails_and_numbers_items_in_order(parts: list[str]) -> None:
    entries = split_page("\n\n".join(parts), issue_date=date(2022, 1, 1))
    assert [e.position for e in entries] == list(range(1, len(entries) + 1))
    assert all(e.title and e.key for e in entries)
    assert len({e.key for e in entries}) == len(entries)


# --- no text lost, on pages built from the parts real pages are made of ------------------------

# fmt: off
WORDS = [
    "县委", "召开", "安全生产", "专题会议", "强调", "要", "切实", "做好", "各项", "工作", "群众",
    "的", "和", "在", "了", "2024年", "3月5日", "乡村振兴", "5G基站", "GDP", "“两在两同”",
    "（扩大）", "《实施方案》", "记者", "通讯员", "摄影", "示范区", "街道", "社区", "图为",
]
# fmt: on
title_part = st.lists(st.sampled_from(WORDS), min_size=2, max_size=6).map("".join)
sentence = st.tuples(
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=10).map("".join),
    st.sampled_from(["。", "！", "？", "；", "，", "……", "。”", ""]),
).map("".join)
paragraph = st.lists(sentence, min_size=1, max_size=4).map("".join)
name = st.sampled_from(["张明", "李晓红", "王 芳", "欧阳晓东", "周敏"])
block = st.one_of(
    title_part,
    st.tuples(title_part, title_part).map(" ——".join),
    paragraph,
    paragraph,
    paragraph,
    st.tuples(st.sampled_from(["本报讯（记者 ", "新华社北京3月5日电（记者 "]), name, paragraph).map(
        lambda p: f"{p[0]}{p[1]}）{p[2]}"
    ),
    name.map(lambda n: f"本报记者 {n}"),
    name.map(lambda n: f"·{n}·"),
    name.map(lambda n: f"□ 融媒记者 {n} 通讯员 吴磊"),
    st.tuples(paragraph, name).map(lambda p: f"{p[0]}（记者 {p[1]}）"),
    st.tuples(paragraph, name).map(lambda p: f"{p[0]} {p[1]} 摄"),
    name.map(lambda n: f"{n} 摄"),
    st.sampled_from(["简讯", "【短讯】", "·城事·", "图片新闻", "【今日快评】", "相关链接"]),
    st.sampled_from(
        [
            "责任编辑：张 三",
            "第3版",
            "2024年3月5日 星期二",
            "A3 要闻 2024年3月5日 星期二 责编：李 四",
        ]
    ),
    st.sampled_from(["（下转第2版）", "（上接第一版）", "1.加强组织领导", "（一）压实责任"]),
    st.tuples(st.sampled_from("●■◆"), title_part, paragraph).map(
        lambda p: f"{p[0]} {p[1]}  {p[2]}"
    ),
    st.sampled_from(["指标 数值 增长", "地区生产总值 268.4亿元 5.6%", "图①：工人在作业。"]),
    paragraph.map(lambda p: f"编者按：{p}"),
    st.sampled_from(
        ["问：怎么做？", "记者：为什么？", "来源：金河晚报", "本组图片均由本报记者 石 峰 摄"]
    ),
)


@st.composite
def pages(draw: st.DrawFn) -> str:
    """A page of blocks after a first article: apart by blank lines or not, some paragraphs cut
    by a column break or set line by line in a narrow column, some indented as web copies are.
    (A page of nothing but a byline has no article for the names to go to.)"""
    blocks = draw(st.lists(block, max_size=16))
    column = draw(st.sampled_from([None, 10, 13, 16]))  # every visual line of a narrow column
    out = ["县委召开常委会", "会议研究了近期工作。"]
    for text in blocks:
        if column and len(text) > column and not FURNITURE.match(text):
            out += set_in_column(text, column)
        elif len(text) > 12 and not FURNITURE.match(text) and draw(st.booleans()):
            k = draw(st.integers(1, len(text) - 1))
            out += [text[:k], text[k:]]
        else:
            out.append(("\u3000\u3000" if draw(st.booleans()) else "") + text)
    return draw(st.sampled_from(["\n\n", "\n"])).join(out)


@settings(max_examples=300, deadline=None)
@given(pages())
def test_no_text_is_lost(page: str) -> None:
    entries = split_page(page, issue_date=date(2024, 3, 5))
    assert lost_text(page, entries) == []
    assert [e.position for e in entries] == list(range(1, len(entries) + 1))
    assert all(e.title and e.key for e in entries)


# --- pages made of real articles ---------------------------------------------------------------

CORPUS = SHARED / "corpus-dev" / "articles.jsonl"
NO_LINE_START = set("，。、；：？！”’）》」』%…")


def set_in_column(paragraph: str, width: float) -> list[str]:
    """The visual lines of a paragraph set in a column `width` Han characters wide (Latin and
    digits half as wide), never starting a line with closing punctuation, as a PDF keeps them."""
    lines, line = [], ""
    for ch in paragraph:
        if line and sum(0.5 if ord(c) < 0x2000 else 1 for c in line) >= width:
            if ch in NO_LINE_START:
                line += ch
                continue
            lines.append(line)
            line = ""
        line += ch
    return [*lines, line] if line else lines


def headline_lines(title: str) -> list[str]:
    """A web headline as a page sets it: a dashed subtitle on a line of its own, a long
    headline of phrases broken at a space."""
    if "——" in title and not title.startswith("——"):
        head, tail = title.split("——", 1)
        return [head, "——" + tail]
    phrases = title.split()
    if len(title) > 24 and len(phrases) > 1 and "【" not in title:
        k = len(phrases) // 2
        return [" ".join(phrases[:k]), " ".join(phrases[k:])]
    return [title]


def real_page(articles: list[dict], layout: str, signature: str, rnd: random.Random) -> str:
    out = ["A3 要闻 2024年3月5日 星期二 责任编辑：王 芳", ""]
    for art in articles:
        paras = [p.strip() for p in art["body"].split("\n\n") if p.strip()]
        name = rnd.choice(["张明", "李晓红", "王建国", "陈思远", "刘洋"])
        if signature == "dot":
            paras.append(f"·{name}·")
        elif signature == "paren":
            paras[-1] += f"（记者 {name}）"
        heads = headline_lines(art["title"])
        if layout == "blank":
            out += [x for line in heads + paras for x in (line, "")]
        elif layout == "line":
            out += heads + paras
        elif layout == "indent":
            out += heads + ["\u3000\u3000" + p if p[0] != "·" else p for p in paras]
        else:  # narrow: every visual line of a column
            width = rnd.choice([12, 13, 14, 16, 18])
            out += heads
            for p in paras:
                out += set_in_column(p, width) if p[0] != "·" else [p]
    return "\n".join([*out, "", "编辑：刘 敏  校对：陈 华"])


def recovered(art: dict, entries: tuple[Entry, ...]) -> bool:
    """The article is one entry, its headline whole and every paragraph in its text."""
    for entry in entries:
        if entry.type == ARTICLE and squeeze("".join(headline(entry))) == squeeze(art["title"]):
            text = squeeze(entry.text)
            paras = [squeeze(p) for p in art["body"].split("\n\n") if p.strip()]
            paras = [re.sub(r"(?<=[。！？”」])[(（][^()（）]{2,16}[)）]$", "", p) for p in paras]
            return all(p[-10:] in text for p in paras)
    return False


def test_pages_made_of_real_articles_split_back() -> None:
    """Real articles (the shared corpus) set on pages in four layouts and three signature
    styles: most come back whole. (Their bodies carry web furniture a page would not, such as
    photo captions and repeated headlines, so not all can.)"""
    if not CORPUS.exists():
        pytest.skip("shared corpus not present")
    rows = [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines()]
    pool = [
        r
        for r in rows
        if r.get("title") and len(r["body"].strip()) > 50 and not r["title"].endswith("快讯")
    ]
    rnd = random.Random(7)
    scores = {}
    for layout in ("blank", "line", "indent", "narrow"):
        for signature in ("none", "dot", "paren"):
            good = total = 0
            for _ in range(12):
                arts = rnd.sample(pool, rnd.randint(2, 5))
                entries = split_page(real_page(arts, layout, signature, rnd))
                good += sum(recovered(a, entries) for a in arts)
                total += len(arts)
            scores[(layout, signature)] = good / total
    print({k: round(v, 2) for k, v in scores.items()})
    assert sum(scores.values()) / len(scores) >= 0.75
    assert min(scores.values()) >= 0.5
