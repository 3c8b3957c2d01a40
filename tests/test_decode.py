"""decode: declared charsets trusted as far as the bytes allow, Chinese bodies always readable."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.decode import decode, decode_detail, normalise_charset_name

NEWS = "本报讯（记者 朱晓）11月13日，区委书记深入一线，检查安全生产和疫情防控工作。"
RARE = "王喆、李堃、朱镕基"  # not in GB2312; in GBK and GB18030
EXT = "𠀀𪚥"  # CJK Extension B: four-byte sequences, only in GB18030


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("GB2312", "gb18030"),
        ("gb_2312-80", "gb18030"),
        ("x-gbk", "gb18030"),
        ("CP936", "gb18030"),
        ("GBK", "gb18030"),
        ("gb18030", "gb18030"),
        (" 'utf8' ", "utf-8"),
        ("UTF-8", "utf-8"),
        ("utf8mb4", "utf-8"),
        ("iso-8859-1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("Big5", "big5hkscs"),
        ("shift_jis", "shift_jis"),
        ("no-such-charset", ""),
        ("rot13", ""),
        ("utf-7", ""),
        ("unicode_escape", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_normalise_charset_name(label: str | None, codec: str) -> None:
    assert normalise_charset_name(label) == codec


def test_boms_win_over_everything() -> None:
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le")):
        body = bom + NEWS.encode(codec)
        text, used = decode(body, {"Content-Type": "text/xml; charset=gbk"})
        assert (text, used) == (NEWS, codec)


def test_http_charset_is_used_when_it_decodes() -> None:
    body = NEWS.encode("gb18030")
    assert decode(body, {"content-type": "text/html; charset=GB2312"}) == (NEWS, "gb18030")


def test_header_lookup_is_case_insensitive() -> None:
    body = NEWS.encode("gbk")
    assert decode(body, {"CONTENT-TYPE": 'text/plain;charset="gbk"'})[1] == "gb18030"


def test_gb2312_label_decodes_gbk_and_gb18030_only_characters() -> None:
    text = f'<?xml version="1.0" encoding="gb2312"?><rss><title>{RARE}{EXT}</title></rss>'
    assert decode(text.encode("gb18030")) == (text, "gb18030")


def test_wrong_utf8_header_on_gbk_body_is_detected() -> None:
    result = decode_detail(NEWS.encode("gbk"), {"Content-Type": "text/xml; charset=utf-8"})
    assert (result.text, result.encoding) == (NEWS, "gb18030")
    assert result.declared == "utf-8" and "not utf-8" in (result.note or "")


def test_document_declaration_used_when_header_is_wrong() -> None:
    text = f'<?xml version="1.0" encoding="GBK"?><rss><title>{NEWS}</title></rss>'
    result = decode_detail(text.encode("gbk"), {"Content-Type": "text/xml; charset=utf-8"})
    assert (result.text, result.encoding, result.note) == (text, "gb18030", None)


def test_meta_charset_in_html() -> None:
    page = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    page += f"<title>{NEWS}</title></head></html>"
    assert decode(page.encode("gb18030")) == (page, "gb18030")
    html5 = f"<!doctype html><meta charset=utf-8><p>{NEWS}</p>"
    assert decode(html5.encode()) == (html5, "utf-8")


def test_undeclared_utf8_and_gbk() -> None:
    assert decode(NEWS.encode("utf-8")) == (NEWS, "utf-8")
    assert decode(NEWS.encode("gbk")) == (NEWS, "gb18030")


def test_utf16_declaration_on_ascii_compatible_body_is_ignored() -> None:
    text = f'<?xml version="1.0" encoding="UTF-16"?><rss><title>{NEWS}</title></rss>'
    assert decode(text.encode("utf-8")) == (text, "utf-8")


def test_utf16_without_bom_is_sniffed() -> None:
    text = f'<?xml version="1.0" encoding="utf-16"?><rss><title>{NEWS}</title></rss>'
    assert decode(text.encode("utf-16-le")) == (text, "utf-16-le")


def test_damaged_utf8_keeps_its_declared_charset() -> None:
    # A multi-byte character cut in half in a long UTF-8 document: still UTF-8, not GB18030.
    body = (NEWS * 20).encode("utf-8") + "中".encode()[:2] + (NEWS * 20).encode("utf-8")
    result = decode_detail(body, {"Content-Type": "application/rss+xml; charset=utf-8"})
    assert result.encoding == "utf-8"
    assert result.text.count(NEWS) == 40 and "\ufffd" in result.text
    assert result.note


def test_utf8_page_still_labelled_gb2312_is_read_as_utf8() -> None:
    # A site moved to UTF-8 but kept its old template and server config.
    paragraphs = "".join(f"<p>{NEWS[: 7 + i % 5]}</p>\n" for i in range(60))
    page = f'<html><head><meta charset="gb2312"></head><body>{paragraphs}</body></html>'
    result = decode_detail(page.encode("utf-8"), {"Content-Type": "text/html; charset=GBK"})
    assert (result.text, result.encoding) == (page, "utf-8")
    assert result.note == "declared gb18030 but the bytes are not gb18030"


def test_latin1_page_is_not_read_as_chinese() -> None:
    text = "Café crème, déjà vu — naïve façade. " * 20
    result = decode_detail(text.encode("cp1252"), {"Content-Type": "text/html; charset=utf-8"})
    assert result.text == text


@pytest.mark.parametrize("label", ["ISO-8859-1", "latin1", "us-ascii", "windows-1252"])
def test_server_default_latin1_label_does_not_garble_chinese(label: str) -> None:
    headers = {"Content-Type": f"text/html;charset={label}"}
    assert decode(NEWS.encode("gbk"), headers) == (NEWS, "gb18030")
    assert decode(NEWS.encode("utf-8"), headers) == (NEWS, "utf-8")
    page = f'<?xml version="1.0" encoding="gb2312"?><rss><title>{NEWS}</title></rss>'
    assert decode(page.encode("gb18030"), headers) == (page, "gb18030")
    french = "Le conseil municipal s'est réuni à huis clos, a déclaré le maire. " * 5
    assert decode(french.encode("cp1252"), headers) == (french, "cp1252")


def test_big5_declared_is_respected() -> None:
    text = "臺北市政府新聞稿：市府今日召開記者會。"
    assert decode(text.encode("big5"), {"Content-Type": "text/html; charset=big5"})[0] == text


@pytest.mark.parametrize("body", [b"", b"\xff", b"\x80\x81\xfe\xff" * 10, bytes(range(256))])
def test_never_raises(body: bytes) -> None:
    for headers in (None, {"Content-Type": "text/xml; charset=nonsense"}, {"X": "y"}):
        text, used = decode(body, headers)
        assert isinstance(text, str) and used


_CJK_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),
        st.sampled_from("，。、；：？！“”（）《》—…　0123456789 abcXYZ\n"),
    ),
    min_size=6,
    max_size=300,
).filter(lambda s: sum(1 for c in s if ord(c) >= 0x4E00) >= 6)


@settings(max_examples=300, deadline=None)
@given(_CJK_TEXT, st.sampled_from(["utf-8", "UTF-8", "utf8"]))
def test_gb18030_text_with_wrong_utf8_header_round_trips(text: str, label: str) -> None:
    body = text.encode("gb18030")
    assert decode(body, {"Content-Type": f"text/html; charset={label}"}) == (text, "gb18030")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_utf8_text_round_trips_without_headers(text: str) -> None:
    body = text.encode("utf-8", "surrogatepass")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return  # lone surrogates are not valid UTF-8 to begin with
    decoded, used = decode(body)
    if not text.startswith("\ufeff"):
        assert (decoded, used) == (text, "utf-8")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([None, "utf-8", "gbk", "bogus", "utf-16"]))
def test_arbitrary_bytes_never_raise(body: bytes, charset: str | None) -> None:
    headers = {"Content-Type": f"text/xml; charset={charset}"} if charset else None
    text, used = decode(body, headers)
    assert isinstance(text, str) and isinstance(used, str) and used


def test_real_articles_in_gb18030_with_wrong_header() -> None:
    """Real simplified and traditional Chinese articles, GB18030 bytes labelled utf-8."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "shared" / "corpus-dev" / "articles.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not present")
    for line in path.read_text(encoding="utf-8").splitlines():
        body = json.loads(line)["body"]
        if not body:
            continue
        assert decode(body.encode("gb18030"), {"Content-Type": "text/html; charset=utf-8"}) == (
            body,
            "gb18030",
        )
