"""The e-paper splitter on the shared seed pages, on our own pages in other styles, and on noise."""

from __future__ import annotations

import html
import json
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
    if "section" in want and entry.categories != (want["section"],):
        wrong.append(f"section {entry.categories}")
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


def no_broken_paragraphs(entry: Entry) -> list[str]:
    """Paragraphs that stop mid-sentence although they are neither a subhead nor the cut end."""
    paras = blocks(entry)
    return [
        text
        for i, (tag, text) in enumerate(paras)
        if tag == "p" and not finished(text) and not (entry.truncated and i == len(paras) - 1)
    ]


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


@pytest.mark.parametrize("page", sorted(FIXTURES.glob("*.txt")), ids=lambda p: p.stem)
def test_own_pages_split_as_expected(page: Path) -> None:
    want = json.loads(page.with_suffix(".json").read_text("utf-8"))
    entries = split_page(page.read_text("utf-8"))
    check_page(entries, want)
    for entry in entries:
        if entry.type == ARTICLE:
            assert no_broken_paragraphs(entry) == [], entry.title


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
