"""Full-text extraction: decoding, dates, bylines, paragraphs, sanitising, whole articles."""

from __future__ import annotations

import codecs
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.errors import ParseError
from aggregator.extract import (
    CHINA_TZ,
    date_from_url,
    day_start,
    decode_html,
    extract_article,
    html_to_paragraphs,
    parse_date,
    reporters_from_byline,
    sanitize_html,
    split_byline,
    strip_trailer,
    unbreak_title,
)
from aggregator.model import ARTICLE

SITES = Path(__file__).parent / "fixtures" / "sites"
GOV_ARTICLE = SITES / "gov" / "art" / "2024" / "3" / "5" / "art_2101_501.html"
MEDIA_ARTICLE = SITES / "media" / "news" / "2024-03" / "05" / "content_88.html"


# --------------------------------------------------------------------------- decode_html


def test_gbk_page_is_decoded_from_its_meta_charset():
    text = decode_html(GOV_ARTICLE.read_bytes())
    assert "河东区召开安全生产专题会议" in text


def test_header_claiming_utf8_on_a_gbk_body_does_not_garble_it():
    body = "<html><body><p>崇川区召开会议</p></body></html>".encode("gbk")
    assert "崇川区召开会议" in decode_html(body, "utf-8")


def test_gb2312_label_decodes_characters_outside_gb2312():
    # 镕 is in GBK but not in GB2312; a strict gb2312 decoder would fail on it.
    body = '<meta charset="gb2312"><p>朱镕基</p>'.encode("gbk")
    assert "朱镕基" in decode_html(body)


def test_latin1_header_default_does_not_override_the_page():
    body = '<meta charset="utf-8"><p>南通日报</p>'.encode()
    assert "南通日报" in decode_html(body, "ISO-8859-1")


def test_byte_order_mark_wins():
    body = codecs.BOM_UTF8 + '<meta charset="gbk"><p>商丘</p>'.encode()
    assert decode_html(body, "gbk").endswith("<p>商丘</p>")


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", (2024, 3, 5, 0, 0)),
        ("发布时间：2024/3/5 14:30", (2024, 3, 5, 14, 30)),
        ("2024年3月5日", (2024, 3, 5, 0, 0)),
        ("2024年03月05日 09时08分", (2024, 3, 5, 9, 8)),
        ("2024.03.05", (2024, 3, 5, 0, 0)),
        ("20240305", (2024, 3, 5, 0, 0)),
    ],
)
def test_parse_date_formats(text, expected):
    got = parse_date(text)
    assert got is not None and got.tzinfo is not None
    assert (got.year, got.month, got.day, got.hour, got.minute) == expected
    assert got.utcoffset() == timedelta(hours=8)


def test_month_day_needs_today_and_never_lands_in_the_future():
    assert parse_date("[03-05]") is None
    assert parse_date("[03-05]", today=date(2024, 3, 6)) == day_start(date(2024, 3, 5))
    # In early January, "12-30" is last year's.
    assert parse_date("12-30", today=date(2024, 1, 2)) == day_start(date(2023, 12, 30))


def test_impossible_dates_are_rejected():
    assert parse_date("2024-02-30") is None
    assert parse_date("没有日期") is None


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)))
def test_every_written_form_of_a_day_parses_back(day):
    want = day_start(day)
    assert parse_date(f"{day.year}年{day.month}月{day.day}日") == want
    assert parse_date(day.isoformat()) == want
    assert parse_date(f"[{day:%m-%d}]", today=day) == want


@given(
    st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 12, 31)),
    st.integers(min_value=0, max_value=364),
)
def test_month_day_is_within_a_year_before_today(today, back):
    day = today - timedelta(days=back)
    if (day.month, day.day) == (2, 29):
        return
    got = parse_date(f"{day.month}月{day.day}日", today=today)
    assert got is not None and got.date() <= today
    assert (today - got.date()).days < 366


def test_date_from_url_knows_the_cms_layouts():
    assert date_from_url("http://x/html/2024-03/05/content_1.htm") == date(2024, 3, 5)
    assert date_from_url("http://x/pc/layout/202403/05/node_A01.html") == date(2024, 3, 5)
    assert date_from_url("http://x/art/2024/3/5/art_2101_1.html") == date(2024, 3, 5)
    assert date_from_url("http://x/xxgk/t20240305_123.html") == date(2024, 3, 5)
    assert date_from_url("http://x/2024-03-05/8841.shtml") == date(2024, 3, 5)
    assert date_from_url("http://x/news/12345.html") is None


# --------------------------------------------------------------------------- bylines


def test_reporters_from_role_words_and_names():
    assert reporters_from_byline("■本报记者 王晓东 通讯员 李青") == ("王晓东", "李青")
    assert reporters_from_byline("本报驻京记者张三") == ("张三",)
    assert reporters_from_byline("全媒体记者 周一 吴二、郑三") == ("周一", "吴二", "郑三")


def test_a_name_containing_role_characters_survives():
    assert reporters_from_byline("文/图 李文华") == ("李文华",)
    assert reporters_from_byline("记者 图雅") == ("图雅",)


def test_split_byline_takes_the_byline_line_off_but_keeps_the_dateline_lead():
    paras = [
        "□本报记者 张三 李四",
        "本报讯（记者 王五 通讯员 赵六）3月5日，全市召开会议。",
        "会议要求抓好落实。",
        "（孙七）",
    ]
    reporters, kept = split_byline(paras)
    assert reporters == ("张三", "李四", "王五", "赵六", "孙七")
    assert kept == paras[1:3]


def test_split_byline_leaves_ordinary_text_alone():
    paras = ["记者从市交通局获悉，新线路下月开通。", "市民可通过手机查询。"]
    assert split_byline(paras) == ((), paras)


def test_editor_sign_off_is_dropped():
    assert strip_trailer(["正文。", "（责任编辑：马丽）", "审核：刘强"]) == ["正文。"]
    assert strip_trailer(["编辑部收到来信。"]) == ["编辑部收到来信。"]


def test_unbreak_title_only_with_evidence():
    assert (
        unbreak_title("濠河夜游航线 恢复运营", "濠河夜游航线恢复运营-晚报")
        == "濠河夜游航线恢复运营"
    )
    assert unbreak_title("集中解决瓶颈难题 促进社会和谐稳定", "常州日报") == (
        "集中解决瓶颈难题 促进社会和谐稳定"
    )


# --------------------------------------------------------------------------- text & html


def test_paragraphs_from_blocks_and_line_breaks():
    html = (
        "<div><p>　　第一段\n内容</p><p>second <b>line</b></p>tail text<br>after break"
        "<script>var x = 1;</script><!-- note --><table><tr><td>表格</td></tr></table></div>"
    )
    assert html_to_paragraphs(html) == [
        "第一段内容",
        "second line",
        "tail text",
        "after break",
        "表格",
    ]


def test_sanitize_keeps_content_drops_active_parts_and_absolutises_links():
    html = (
        '<p onclick="steal()">正文<img src="../res/1.jpg" onerror="x()"></p>'
        '<script>alert(1)</script><a href="/a.html">链接</a><a href="javascript:void(0)">坏</a>'
    )
    out = sanitize_html(html, "http://site.example/html/2024-03/05/content_1.htm")
    assert "正文" in out and "script" not in out and "onclick" not in out and "onerror" not in out
    assert 'src="http://site.example/html/2024-03/res/1.jpg"' in out
    assert 'href="http://site.example/a.html"' in out
    assert "javascript" not in out


# --------------------------------------------------------------------------- articles


def test_government_article_with_meta_tags():
    url = "http://gov.example/gov/art/2024/3/5/art_2101_501.html"
    entry = extract_article(decode_html(GOV_ARTICLE.read_bytes()), url)
    assert entry.title == "河东区召开安全生产专题会议"
    assert entry.published is not None
    assert entry.published.isoformat() == "2024-03-05T16:20:00+08:00"
    assert entry.outlet_name == "河东日报"
    assert entry.key == entry.url == url
    paras = entry.text.split("\n\n")
    assert paras[0].startswith("3月5日下午，河东区召开安全生产专题会议")
    assert paras[-1] == "会议还通报了近期全区安全生产检查情况。"
    for boilerplate in ("网站首页", "相关阅读", "主办：", "分享到"):
        assert boilerplate not in entry.text
    assert entry.type == ARTICLE


def test_government_article_with_selectors_and_lead_byline():
    path = SITES / "gov" / "art" / "2024" / "3" / "4" / "art_2101_498.html"
    entry = extract_article(
        decode_html(path.read_bytes()),
        "http://gov.example/gov/art/2024/3/4/art_2101_498.html",
        selectors={"body": "#zoom", "title": "h1.title", "date": ".info"},
    )
    assert entry.title == "区领导调研重点项目建设和优化营商环境工作推进情况"
    assert entry.reporters == ("韩雪", "郑伟")
    assert entry.published is not None and entry.published.hour == 10
    assert entry.text.startswith("本报讯（记者 韩雪 通讯员 郑伟）3月4日上午")


def test_media_article_main_text_without_selectors():
    entry = extract_article(
        MEDIA_ARTICLE.read_text(encoding="utf-8"),
        "http://media.example/news/2024-03/05/content_88.html",
    )
    assert entry.title == "城东街道“网格+志愿”破解小区停车难"
    assert entry.published is not None
    assert entry.published.astimezone(CHINA_TZ).isoformat() == "2024-03-05T08:30:00+08:00"
    assert entry.reporters == ("许诺",)
    assert entry.outlet_name == "江海晚报"
    paras = entry.text.split("\n\n")
    assert len(paras) == 4
    assert paras[-1] == "街道负责人表示，下一步将把这一做法推广到辖区其他老旧小区。"
    for boilerplate in ("热点排行", "责任编辑", "版权所有", "关于我们"):
        assert boilerplate not in entry.text
    assert entry.summary and entry.summary in paras[0]
    assert "<script" not in entry.content_html and "幸福里小区" in entry.content_html


def test_page_without_an_article_is_a_parse_error():
    with pytest.raises(ParseError):
        extract_article("<html><head></head><body></body></html>", "http://x.example/a.html")


PARAS = [
    "近日，城西街道在辖区12个社区推行“错峰共享”停车模式，把机关单位、学校的内部停车场在夜间和周末向周边居民开放。",
    "据介绍，参与共享的单位共15家，可提供夜间停车位800余个。居民通过小程序预约，按月缴纳少量管理费即可使用。",
    "“以前下班回来找车位要半个小时，现在直接开进对面的学校，早上七点前开走就行。”家住梧桐苑的李女士说。",
    "街道相关负责人表示，下一步将继续挖掘辖区停车资源，力争年底前再新增共享车位500个。",
]


def news_page(body_class: str = "txt") -> str:
    hot = "".join(f'<li><a href="/h/{i}.html">热门新闻标题第{i}条内容</a></li>' for i in range(8))
    return (
        "<html><head><title>城西街道推行“错峰共享”停车 - 某某新闻网</title></head><body>"
        '<div class="nav"><a href="/">首页</a> <a href="/a">本地</a> <a href="/b">国内</a></div>'
        '<div class="wrap"><div class="left"><div class="hd"><h1>城西街道推行“错峰共享”停车</h1>'
        '<div class="info">2024-03-05 09:12 来源：某某日报</div></div>'
        f'<div class="{body_class}">{"".join(f"<p>{p}</p>" for p in PARAS)}</div>'
        '<div class="bar">上一篇：<a href="/n/1.html">春季运动会开幕</a></div></div>'
        f'<div class="right"><div class="hot"><h3>热门文章</h3><ul>{hot}</ul></div></div></div>'
        '<div class="foot">关于我们 | 联系我们 | 版权声明 Copyright 2024 某某新闻网</div></body></html>'
    )


def test_unknown_layout_falls_to_trafilatura():
    entry = extract_article(news_page("txt"), "http://news.example/n/88.html")
    assert entry.title == "城西街道推行“错峰共享”停车"
    assert entry.text.split("\n\n") == PARAS
    # The unlabelled stamp right above the text dates the story; 来源 names the outlet.
    assert (
        entry.published is not None and entry.published.isoformat() == "2024-03-05T09:12:00+08:00"
    )
    assert entry.outlet_name == "某某日报"


def test_logo_in_h1_is_not_the_headline():
    html = (
        "<html><head><title>老旧小区加装电梯再提速_河东区人民政府</title></head><body>"
        '<h1 class="logo">河东区人民政府</h1><div class="side"><h1>专题专栏</h1></div>'
        '<div class="art"><h2 class="title">老旧小区加装电梯再提速</h2><div class="wz">'
        "<p>今年以来，全区新增加装电梯42部，惠及居民1000余户。</p><p>第二段内容在这里。</p></div></div>"
        "</body></html>"
    )
    entry = extract_article(html, "http://gov.example/art/2024/3/5/art_1.html")
    assert entry.title == "老旧小区加装电梯再提速"
    assert entry.text.split("\n\n") == [
        "今年以来，全区新增加装电梯42部，惠及居民1000余户。",
        "第二段内容在这里。",
    ]
    assert entry.published == day_start(date(2024, 3, 5))  # from the URL, lacking anything better
