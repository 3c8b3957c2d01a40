"""parse.parse_feed over real-shaped feed documents, each with its expectation beside it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.decode import decode
from aggregator.errors import ParseError
from aggregator.model import Entry, ParsedFeed
from aggregator.parse import canonical_url, excerpt, parse_date, parse_feed

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
EXPECTATIONS = sorted(FIXTURES.glob("*.expected.json"))
FETCHED = datetime(2024, 5, 1, tzinfo=UTC)


def _document(expected_path: Path) -> Path:
    stem = expected_path.name.removesuffix(".expected.json")
    (doc,) = [p for p in FIXTURES.glob(stem + ".*") if not p.name.endswith(".expected.json")]
    return doc


def _run(expected_path: Path) -> tuple[dict, bytes, ParsedFeed | ParseError]:
    spec = json.loads(expected_path.read_text(encoding="utf-8"))
    body = _document(expected_path).read_bytes()
    try:
        result: ParsedFeed | ParseError = parse_feed(
            body,
            url=spec["url"],
            headers=spec.get("headers"),
            fetched=datetime.fromisoformat(spec["fetched"]),
        )
    except ParseError as exc:
        result = exc
    return spec, body, result


def _check_entry(entry: Entry, want: dict, where: str) -> None:
    for name, value in want.items():
        if name == "key_prefix":
            assert entry.key.startswith(value), where
        elif name == "content_html_contains":
            for piece in value:
                assert piece in entry.content_html, f"{where}: {piece!r} missing"
        elif name == "content_html_excludes":
            for piece in value:
                assert piece not in entry.content_html, f"{where}: {piece!r} present"
        elif name in ("published", "updated"):
            got = getattr(entry, name)
            expected = datetime.fromisoformat(value) if value else None
            assert got == expected, f"{where}.{name}: {got} != {expected}"
            if got is not None:
                assert got.tzinfo is not None, f"{where}.{name} is naive"
        elif name == "categories":
            assert list(entry.categories) == value, where
        else:
            assert getattr(entry, name) == value, f"{where}.{name}"


@pytest.mark.parametrize("expected_path", EXPECTATIONS, ids=lambda p: p.name.split(".")[0])
def test_fixture(expected_path: Path) -> None:
    spec, body, result = _run(expected_path)
    if "error" in spec:
        assert isinstance(result, ParseError), f"expected ParseError, got {result!r}"
        assert spec["error"] in str(result)
        return
    assert isinstance(result, ParsedFeed), f"unexpected ParseError: {result}"
    if "encoding" in spec:
        assert decode(body, spec.get("headers"))[1] == spec["encoding"]
    for name, value in spec.get("feed", {}).items():
        assert getattr(result, name) == value, f"feed.{name}"
    if spec.get("warning") is None:
        assert result.warning is None, result.warning
    else:
        assert result.warning is not None
        for piece in spec["warning"]:
            assert piece in result.warning, f"{piece!r} not in {result.warning!r}"
    assert len(result.entries) == len(spec["entries"]), [e.title for e in result.entries]
    for i, (entry, want) in enumerate(zip(result.entries, spec["entries"], strict=True)):
        _check_entry(entry, want, f"entry[{i}]")


@pytest.mark.parametrize("expected_path", EXPECTATIONS, ids=lambda p: p.name.split(".")[0])
def test_every_entry_is_well_formed(expected_path: Path) -> None:
    """Invariants every consumer relies on, whatever the document."""
    _, _, result = _run(expected_path)
    if isinstance(result, ParseError):
        return
    keys = [e.key for e in result.entries]
    assert len(keys) == len(set(keys)), "keys must be unique within a document"
    for entry in result.entries:
        assert entry.key and entry.title
        assert "\n" not in entry.title
        assert entry.url is None or entry.url.startswith(("http://", "https://"))
        for moment in (entry.published, entry.updated):
            assert moment is None or moment.tzinfo is not None
        assert "<script" not in entry.content_html.lower()
        assert "\n\n\n" not in entry.text


def test_keys_without_guid_or_link_are_stable_and_distinct() -> None:
    path = FIXTURES / "rss20_no_guid.expected.json"
    first = _run(path)[2]
    again = _run(path)[2]
    assert isinstance(first, ParsedFeed) and isinstance(again, ParsedFeed)
    assert [e.key for e in first.entries] == [e.key for e in again.entries]
    assert first.entries[1].key != first.entries[2].key


def test_fetch_url_header_content_location_is_the_base() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>a</title><link>p/1.html</link></item></channel></rss>"
    )
    result = parse_feed(
        body,
        url="http://a.example.cn/old/rss.xml",
        headers={"Content-Location": "/new/rss.xml"},
        fetched=FETCHED,
    )
    assert result.entries[0].url == "http://a.example.cn/new/p/1.html"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"   \r\n\t ", "empty"),
        (b"\x00\x01\x02", "empty"),
        (b"Service Unavailable", "neither XML nor JSON"),
        # A body that looks like a URL or a path must never be fetched or opened.
        (b"http://127.0.0.1:9/feed.xml", "neither XML nor JSON"),
        (b"/etc/passwd", "neither XML nor JSON"),
        (b"<rss version='2.0'><channel><title>x</title><item><title>", "malformed XML at line"),
        (b"<html><body><p>hello</p></body></html>", "got an HTML page (no <title>)"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "malformed JSON at line"),
        (b'{"name": "not a feed"}', "not a feed: JSON document without"),
        (b"[1, 2, 3]", "not a feed: got a JSON list"),
        (b"<?xml version='1.0'?><opml version='2.0'><body/></opml>", "root <opml>"),
    ],
)
def test_not_a_feed_raises_readable_parse_error(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(body, url="http://a.example.cn/rss.xml", fetched=FETCHED)
    assert reason in str(info.value)


def test_empty_but_valid_feed_has_no_entries_and_no_warning() -> None:
    body = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Empty</title></channel></rss>"
    result = parse_feed(body, url="http://a.example.cn/rss.xml", fetched=FETCHED)
    assert result.entries == () and result.title == "Empty" and result.warning is None


def test_naive_fetch_time_is_treated_as_utc() -> None:
    body = (
        b"<rss version='2.0'><channel><item><title>x</title><guid>g</guid>"
        b"<pubDate>Wed, 01 Jan 2031 00:00:00 +0000</pubDate></item></channel></rss>"
    )
    result = parse_feed(body, url="http://a.example.cn/", fetched=datetime(2024, 5, 1))
    assert result.entries[0].published == FETCHED


def test_summary_only_feeds_get_a_short_excerpt() -> None:
    long_text = "。".join(f"第{i}句话说明了镇里的工作安排" for i in range(40))
    body = (
        "<rss version='2.0'><channel><item><title>t</title><guid>g</guid>"
        f"<description>{long_text}</description></item></channel></rss>"
    ).encode()
    entry = parse_feed(body, url="http://a.example.cn/", fetched=FETCHED).entries[0]
    assert entry.text == long_text
    assert len(entry.summary) <= 200 and long_text.startswith(entry.summary)
    assert entry.summary.endswith("。")


def test_excerpt_cuts_long_text_with_ellipsis_when_no_sentence_end() -> None:
    assert excerpt("字" * 300) == "字" * 200 + "…"
    assert excerpt("第一段。\n\n第二段。") == "第一段。"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://Example.CN:80/a/b.html#x", "http://example.cn/a/b.html"),
        (
            "https://example.cn:8443/a?utm_source=x&id=3&UTM_Medium=y",
            "https://example.cn:8443/a?id=3",
        ),
        ("https://example.cn", "https://example.cn/"),
        ("https://example.cn/a?b=1&c=%E4%B8%AD", "https://example.cn/a?b=1&c=%E4%B8%AD"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("Fri, 08 Mar 2024 08:57:01 +0800", "2024-03-08T00:57:01+00:00"),
        ("Fri Mar 08 08:57:01 CST 2024", "2024-03-08T00:57:01+00:00"),
        ("2024-03-08 08:57:01", "2024-03-08T00:57:01+00:00"),
        ("2024年3月8日 08:57", "2024-03-08T00:57:00+00:00"),
        ("2024-03-08T08:57:01Z", "2024-03-08T08:57:01+00:00"),
        ("not a date", None),
        ("", None),
    ],
)
def test_parse_date(value: str, iso: str | None) -> None:
    expected = datetime.fromisoformat(iso) if iso else None
    assert parse_date(value) == expected


_FEEDISH = st.sampled_from(
    [
        b"<?xml version='1.0'?>",
        b"<rss version='2.0'>",
        b"<channel>",
        b"<item>",
        b"</item>",
        b"<title>",
        b"</title>",
        b"<feed xmlns='http://www.w3.org/2005/Atom'>",
        b"<entry>",
        b"<link href='",
        b"javascript:alert(1)'/>",
        b"<![CDATA[",
        b"]]>",
        b"&nbsp;",
        b"&#0;",
        b"\xd6\xd0\xce\xc4",
        "中文".encode(),
        b"{",
        b'"items": [',
        b'"version": "https://jsonfeed.org/version/1"',
        b"<html>",
        b"<pubDate>Fri, 99 Foo 2024</pubDate>",
        b"\x00",
        b"\xff\xfe",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=400), st.lists(_FEEDISH | st.binary(max_size=8)).map(b"".join)))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    try:
        result = parse_feed(body, url="http://a.example.cn/feed", fetched=FETCHED)
    except ParseError:
        return
    assert isinstance(result, ParsedFeed)
    for entry in result.entries:
        assert entry.url is None or entry.url.startswith(("http://", "https://"))
