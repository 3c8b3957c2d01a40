"""Posts with front matter: the shared Jekyll seed and our own Markdown and HTML posts."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.errors import ParseError
from aggregator.posts import markdown_to_html, parse_post, split_front_matter

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
FIXTURES = Path(__file__).parent / "fixtures" / "posts"


def squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


def read(name: str) -> tuple[str, str]:
    path = FIXTURES / name
    return path.read_text("utf-8"), str(path)


def test_seed_post_matches_expected() -> None:
    if not (SEEDS / "expected.json").exists():
        pytest.skip("shared seeds not present")
    files = json.loads((SEEDS / "expected.json").read_text("utf-8"))["files"]
    name, spec = next((n, s) for n, s in files.items() if s["kind"] == "jekyll-post")
    path = SEEDS / name
    entry = parse_post(path.read_text("utf-8"), path=str(path))
    (want,) = spec["articles"]
    assert entry.title == want["title"]
    assert entry.reporters == tuple(want["byline"].split())
    assert squeeze(entry.text).startswith(squeeze(want["starts"]))
    assert squeeze(entry.text).endswith(squeeze(want["ends"]))
    assert entry.url == spec["url"]
    assert entry.outlet_name == spec["outlet"]
    assert entry.published == datetime.fromisoformat(spec["published"])
    assert entry.key == path.stem
    assert "返回" not in entry.text and "http" not in entry.text and "来源" not in entry.text


def test_markdown_post() -> None:
    text, path = read("2023-04-12-spring-planting.md")
    entry = parse_post(text, path=path, base_url="https://mirror.example.org/")
    assert entry.title == "春耕时节农事忙 科技助力粮满仓"
    assert entry.published == datetime(2023, 4, 12, 7, 30, tzinfo=entry.published.tzinfo)
    assert entry.published.utcoffset() == timedelta(hours=8)
    assert entry.categories == ("xuzhouribao", "农业", "春耕", "粮食安全")
    assert entry.reporters == ("王磊", "刘晓红")
    assert entry.author == "王磊 刘晓红"
    assert entry.outlet_name == "徐州日报"
    assert entry.url == "https://www.example.cn/xzrb/2023-04/12/content_1001.html"
    paragraphs = entry.text.split("\n\n")
    # the lead is gone, and the soft line break inside Chinese text left no space behind
    assert (
        paragraphs[0]
        == "连日来，睢宁县各镇抢抓农时，组织农机手开展春耕作业，田间地头一派繁忙景象。"
    )
    assert "智能农机唱主角" in paragraphs
    assert paragraphs[-1].endswith("机械化率达到92%。")
    assert "<h2>智能农机唱主角</h2>" in entry.content_html
    assert "<strong>精准</strong>" in entry.content_html
    assert "script" not in entry.content_html and "alert" not in entry.text
    assert "原文链接" not in entry.content_html and "返回首页" not in entry.content_html
    assert entry.summary.startswith("连日来") and "智能农机唱主角" not in entry.summary
    assert entry.key == "2023-04-12-spring-planting"


def test_html_post_without_title_uses_h1_path_date_and_permalink() -> None:
    text, path = read("2023-05-01-night-market.html")
    entry = parse_post(text, path=path, base_url="https://mirror.example.org/")
    assert entry.title == "古城夜市开市 烟火气回来了"
    assert "<h1>" not in entry.content_html
    assert entry.published is not None and entry.published.date().isoformat() == "2023-05-01"
    assert entry.url == "https://mirror.example.org/2023/05/01/night-market.html"
    assert entry.author == "夜市观察员"
    assert entry.outlet_name == "古城晚报"
    assert entry.text.split("\n\n") == [
        "五一假期首日，古城夜市正式开市，120个摊位吸引了大批市民游客。",
        "夜市将持续营业至10月底。",
        "市商务局负责人表示，将进一步丰富夜间消费业态。",
    ]
    assert "onclick" not in entry.content_html


def test_broken_front_matter_still_gives_a_post() -> None:
    text, path = read("broken-front-matter.md")
    entry = parse_post(text, path=path)
    assert entry.title == "标题来自正文"
    assert entry.text == "正文第一段。"
    assert entry.published is None


def test_front_matter_id_is_the_key_and_url_fields_are_used() -> None:
    text = (
        "---\nid: article-42\ntitle: 标题\ndate: 2022年3月8日\n"
        "link: //news.example.cn/a/42.html\nsource: 江南日报\n---\n正文。\n"
    )
    entry = parse_post(text, path="posts/whatever.md")
    assert entry.key == "article-42"
    assert entry.url == "https://news.example.cn/a/42.html"
    assert entry.outlet_name == "江南日报"
    assert entry.published is not None and entry.published.date().isoformat() == "2022-03-08"


def test_heading_repeating_the_title_leaves_the_body() -> None:
    entry = parse_post("---\ntitle: 标题 甲\n---\n# 标题甲\n\n正文。\n\n# 另一个一级标题\n")
    assert entry.title == "标题 甲"
    assert entry.text == "正文。\n\n另一个一级标题"


def test_untitled_post_is_titled_by_its_first_sentence() -> None:
    text, path = read("untitled.md")
    assert parse_post(text, path=path).title == "没有标题的正文。"


def test_post_with_nothing_at_all_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_post("---\nlayout: post\n---\n")


def test_split_front_matter_keeps_scalars_as_text() -> None:
    meta, body = split_front_matter("---\ntitle: 2022\ndraft: yes\n---\nbody\n")
    assert meta == {"title": "2022", "draft": "yes"}
    assert body == "body\n"
    assert split_front_matter("no front matter") == ({}, "no front matter")


def test_markdown_keeps_raw_html_blocks() -> None:
    out = markdown_to_html('<p class="x">甲</p>\n\n乙 <http://a.example/>\n')
    assert '<p class="x">甲</p>' in out
    assert '<a href="http://a.example/">' in out


def test_markdown_without_markdown_it_still_renders_posts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "markdown_it", None)  # import now fails
    out = markdown_to_html(
        "# 标题\n\n<p>原样</p>\n\n见[原文](https://a.example/1) <https://b.example/>\n"
    )
    assert "<h1>标题</h1>" in out and "<p>原样</p>" in out
    assert '<a href="https://a.example/1">原文</a>' in out
    assert '<a href="https://b.example/">https://b.example/</a>' in out
    text, path = read("2023-04-12-spring-planting.md")
    assert parse_post(text, path=path).reporters == ("王磊", "刘晓红")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_parse_post_fails_only_with_parse_error(text: str) -> None:
    try:
        entry = parse_post(text, path="x.md")
    except ParseError:
        return
    assert entry.title and entry.key
