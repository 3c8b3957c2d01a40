"""clean: allow-list sanitising, HTML to text without spaces in Chinese, and back."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.clean import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    LINK_REL,
    html_to_text,
    sanitise_html,
    strip_control,
    text_to_html,
)

BASE = "https://www.example.cn/news/2024/0301/a.html"


# --- sanitise_html --------------------------------------------------------------------------


def test_keeps_structure_and_safe_links() -> None:
    html = (
        '<h2>标题</h2><p class="x" id="y" style="color:red">正文<strong>加粗</strong>'
        '<a href="https://a.example.cn/p" title="说明" target="_blank">链接</a></p>'
        '<table border="1"><tr><th colspan="2">表头</th></tr><tr><td>甲</td><td>乙</td></tr></table>'
        '<figure><img src="https://a.example.cn/i.jpg" alt="图" width="600" height="400">'
        "<figcaption>图片说明</figcaption></figure><ul><li>一</li></ul>"
    )
    out = sanitise_html(html)
    for piece in (
        "<h2>标题</h2>",
        "<strong>加粗</strong>",
        f'<a href="https://a.example.cn/p" title="说明" rel="{LINK_REL}">链接</a>',
        '<th colspan="2">表头</th>',
        '<img src="https://a.example.cn/i.jpg" alt="图" width="600" height="400">',
        "<figcaption>图片说明</figcaption>",
        "<li>一</li>",
    ):
        assert piece in out
    for gone in ("class=", "id=", "style=", "target=", "border="):
        assert gone not in out


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example.com/x.js></SCRIPT>",
        '<img src="x.png" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JAVASCRIPT:alert(1)">x</a>',
        '<a href="java&#x09;script:alert(1)">x</a>',
        '<a href=" javascript:alert(1)">x</a>',
        '<a href="vbscript:msgbox(1)">x</a>',
        '<img src="data:image/svg+xml;base64,PHN2Zz4=">',
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        '<iframe src="https://evil.example.com/"></iframe>',
        "<style>body{display:none}</style>",
        '<object data="x.swf"></object><embed src="x.swf">',
        "<svg onload=alert(1)><circle/></svg>",
        '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
        '<form action="https://evil.example.com"><input name=p></form>',
        '<div style="background:url(javascript:alert(1))">x</div>',
        "<body onload=alert(1)>",
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
        '<base href="https://evil.example.com/">',
        "<!--<script>alert(1)</script>-->",
        "<img src=x onerror=alert(1)//",
        '<a href="&#106;avascript:alert(1)">x</a>',
    ],
)
def test_hostile_markup_is_neutralised(hostile: str) -> None:
    out = sanitise_html(f"<p>正文</p>{hostile}<p>结尾</p>", base_url=BASE)
    _assert_safe(out)
    assert out.startswith("<p>正文</p>")


def test_relative_urls_become_absolute() -> None:
    html = (
        '<a href="b.html">同目录</a><a href="/root.html">根</a><a href="../up.html">上级</a>'
        '<img src="//cdn.example.cn/x.jpg"><a href="#p2">锚点</a><a href="?page=2">翻页</a>'
    )
    out = sanitise_html(html, base_url=BASE)
    for url in (
        "https://www.example.cn/news/2024/0301/b.html",
        "https://www.example.cn/root.html",
        "https://www.example.cn/news/2024/up.html",
        "https://cdn.example.cn/x.jpg",
        "https://www.example.cn/news/2024/0301/a.html#p2",
        "https://www.example.cn/news/2024/0301/a.html?page=2",
    ):
        assert f'"{url}"' in out


def test_without_base_relative_urls_are_kept_as_they_are() -> None:
    assert 'href="b.html"' in sanitise_html('<a href="b.html">x</a>')
    assert 'href="b.html"' in sanitise_html('<a href="b.html">x</a>', base_url="not a url")


def test_lazy_loaded_images_get_their_real_source() -> None:
    html = (
        '<img src="data:image/gif;base64,R0lGOD" data-src="/upload/real.jpg" alt="a">'
        '<img data-original="https://img.example.cn/2.jpg">'
        '<img src="/loading.gif" data-lazy-src="3.jpg">'
    )
    out = sanitise_html(html, base_url=BASE)
    assert 'src="https://www.example.cn/upload/real.jpg"' in out
    assert 'src="https://img.example.cn/2.jpg"' in out
    assert 'src="https://www.example.cn/news/2024/0301/3.jpg"' in out
    assert "loading.gif" not in out and "data-" not in out


def test_leftovers_of_removed_urls_are_dropped() -> None:
    out = sanitise_html('<p><img src="javascript:x"><a href="javascript:x">文字</a></p>')
    assert out == "<p>文字</p>"


def test_control_characters_removed() -> None:
    assert sanitise_html("<p>a\x00b\x08c\x0bd\x1fe\ufffef</p>") == "<p>abcdef</p>"


def test_empty_input() -> None:
    assert sanitise_html("") == "" and html_to_text("") == ""


# --- html_to_text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>第一段</p><p>第二段</p>", "第一段\n\n第二段"),
        ("<p>中<b>文</b>字</p>", "中文字"),
        ("<p>区委书记\n  深入一线</p>", "区委书记深入一线"),  # line wrap inside Chinese
        ("<p>Hello\n  world</p>", "Hello world"),
        ("<p>记者 朱梦琪</p>", "记者 朱梦琪"),  # a real space stays
        ("<p>　　本报讯 昨天</p>", "本报讯 昨天"),  # ideographic indentation is layout
        ("第一行<br>第二行", "第一行\n第二行"),
        ("甲段<br><br>乙段", "甲段\n\n乙段"),
        ("　　第一段<br>　　第二段", "第一段\n\n第二段"),
        ("<div>外<div>内</div>尾</div>", "外\n\n内\n\n尾"),
        ("<p>A&amp;B &lt;c&gt; &ldquo;引号&rdquo;&nbsp;空格</p>", "A&B <c> “引号” 空格"),
        ("<p>前<script>var a = '<p>x</p>';</script>后</p><style>p{}</style>", "前后"),
        ("<table><tr><td>甲</td><td>乙</td></tr><tr><td>丙</td></tr></table>", "甲 乙\n\n丙"),
        ("<ul><li>一</li><li>二</li></ul>", "一\n\n二"),
        ("<pre>line 1\nline 2</pre>", "line 1\nline 2"),
        ("纯文本，没有标签", "纯文本，没有标签"),
        ("<p>零宽\u200b字符</p>", "零宽字符"),
        ("<p>   </p><p></p>", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_strip_control() -> None:
    assert strip_control("a\x00\x01\x08\tb\nc\rd\x0b\x0c\x1f\ud800\uffff") == "a\tb\nc\rd"
    assert strip_control("中文 text") == "中文 text"


def test_text_to_html() -> None:
    assert text_to_html("第一段\n第二行\n\n第二段 <b>&") == (
        "<p>第一段<br>第二行</p><p>第二段 &lt;b&gt;&amp;</p>"
    )
    assert text_to_html("  \n\n ") == ""


# --- properties -----------------------------------------------------------------------------

_HOSTILE = st.sampled_from(
    [
        "<script>",
        "</script>",
        "<script src=x>",
        "<img src=x onerror=alert(1)>",
        "<a href='javascript:alert(1)'>",
        '<a href="data:text/html,x">',
        "<img src='data:image/png;base64,AA'>",
        "<iframe src=//evil>",
        "<svg onload=alert(1)>",
        "<p onclick='x'>",
        "<a href=",
        "javascript:",
        "data:",
        " onmouseover=",
        '"',
        "'",
        "<",
        ">",
        "</",
        "<!--",
        "-->",
        "&#x6A;avascript:",
        "<style>",
        "<div style='x:expression(alert(1))'>",
        "<math>",
        "<template>",
        "<noscript>",
        "<a href=' jav\tascript:x'>",
        '<a href="vbscript:x">',
        "中文",
        "\x00",
    ]
)
_HOSTILE_HTML = st.lists(st.one_of(_HOSTILE, st.text(max_size=12)), max_size=30).map("".join)


class _Audit(HTMLParser):
    """Collects every tag and attribute of sanitised output, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _assert_safe(out: str) -> None:
    assert "<script" not in out.lower()
    for tag in re.findall(r"<[^>]*>", out):
        without_values = re.sub(r'"[^"]*"', '""', tag)
        assert not re.search(r"\son\w+\s*=", without_values, re.I), tag
    audit = _Audit()
    audit.feed(out)
    audit.close()
    for tag, attrs in audit.tags:
        assert tag in ALLOWED_TAGS, tag
        allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        for name, value in attrs:
            assert name in allowed, (tag, name)
            if name in ("href", "src"):
                scheme = re.sub(r"[\x00-\x20]", "", value or "").lower()
                assert not scheme.startswith(("javascript:", "data:", "vbscript:")), value


@settings(max_examples=400, deadline=None)
@given(_HOSTILE_HTML, st.sampled_from([None, BASE]))
def test_sanitised_output_is_always_safe(html: str, base: str | None) -> None:
    _assert_safe(sanitise_html(html, base_url=base))


_HANZI = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
_PARAGRAPH = st.text(
    alphabet=st.one_of(_HANZI, st.sampled_from("，。、；：？！“”《》（）")), min_size=1
)
_WRAPPERS = [
    "<p>{}</p>",
    "<div>{}</div>",
    "<p><span>{}</span></p>",
    "<h3>{}</h3>",
    "<blockquote>{}</blockquote>",
    "<p>{}<script>document.write('广告')</script></p>",
    "<p><font color=red>{}</font></p>",
    "<section><p style='text-indent:2em'>　　{}</p></section>",
    "<p onclick='x()'>{}<img src='javascript:x'></p>",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(_PARAGRAPH, st.sampled_from(_WRAPPERS), st.integers(0, 1000), st.booleans()),
        min_size=1,
        max_size=6,
    )
)
def test_chinese_text_survives_sanitising_intact(parts: list) -> None:
    html_parts = []
    for para, wrapper, cut, wrap_line in parts:
        cut %= len(para) + 1
        # A line wrapped in the source, or a bold run inside the paragraph.
        inner = para[:cut] + ("\n" if wrap_line else "<b>") + para[cut:]
        inner += "" if wrap_line else "</b>"
        html_parts.append(wrapper.format(inner))
    text = html_to_text(sanitise_html("\n".join(html_parts), base_url=BASE))
    assert text == "\n\n".join(para for para, *_ in parts)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1).map(str.strip).filter(bool), min_size=1, max_size=5))
def test_text_to_html_and_back(paragraphs: list[str]) -> None:
    cleaned = [" ".join(strip_control(p).split()) for p in paragraphs]
    cleaned = [p for p in cleaned if p]
    text = "\n\n".join(cleaned)
    html = text_to_html(text)
    assert sanitise_html(html) == html  # already safe: nothing for the sanitiser to change
    back = html_to_text(html)
    # Whitespace and zero-width characters aside, every character survives the round trip.
    invisible = r"[\s\u200b\u2060\ufeff]"
    assert re.sub(invisible, "", back) == re.sub(invisible, "", text)


# --- real articles (../shared, development only) --------------------------------------------


def _corpus() -> list[dict]:
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "shared" / "corpus-dev" / "articles.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not present")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _normalised(text: str) -> str:
    paragraphs = []
    for para in re.split(r"\n\s*\n", text):
        lines = [" ".join(line.split()) for line in para.split("\n")]
        if any(lines):
            paragraphs.append("\n".join(line for line in lines if line))
    return "\n\n".join(paragraphs)


def test_real_articles_survive_html_round_trip() -> None:
    """Simplified and traditional Chinese news text keeps every character and paragraph."""
    for article in _corpus():
        html = sanitise_html(text_to_html(article["body"]), base_url=BASE)
        assert html_to_text(html) == _normalised(article["body"]), article["id"]


def test_absurd_nesting_is_flattened_quickly() -> None:
    """100,000 nested <div>s would cost minutes of quadratic tree building."""
    import time

    hostile = "<div>" * 100_000 + "正文" + "</div>" * 100_000
    start = time.perf_counter()
    assert html_to_text(sanitise_html(hostile)) == "正文"
    assert html_to_text(hostile) == "正文"
    assert time.perf_counter() - start < 5


def test_long_ordinary_articles_keep_their_paragraphs() -> None:
    html = "<div>" + "".join(f"<p>第{i}段<p>" for i in range(2000)) + "</div>"
    text = html_to_text(sanitise_html(html))
    assert text.split("\n\n") == [f"第{i}段" for i in range(2000)]
