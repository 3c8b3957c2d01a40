"""Turn fetched bytes into text: find the charset a document really uses.

Chinese sites often declare one charset and send another (a "utf-8" header on a GBK body is
the classic), and the GB family is declared under half a dozen names. The idea: trust what is
declared, in the order HTTP gives it weight (byte-order mark, then the Content-Type charset,
then the document's own XML declaration or <meta>), but only as far as the bytes decode
strictly. When they do not, go by evidence: valid UTF-8 first, then a declared charset that
fails on a few bytes only (a damaged document), then GB18030 if the result reads as Chinese,
then charset-normalizer's detection. A Latin-1 label is usually a server default, so it is
trusted only for bodies that look Latin. GB2312, GBK and their aliases are always decoded as
GB18030, their superset, so a rare character never breaks a whole document. Never raises.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass

# Every name under which the GB family is declared in the wild; all decode as GB18030.
_GB_ALIASES = frozenset(
    {
        "gb2312",
        "gb_2312",
        "gb_2312-80",
        "gb_2312_80",
        "gb2312-80",
        "gb231280",
        "csgb2312",
        "csiso58gb231280",
        "iso-ir-58",
        "chinese",
        "euc-cn",
        "euccn",
        "x-euc-cn",
        "gbk",
        "x-gbk",
        "cp936",
        "ms936",
        "windows-936",
        "gb18030",
        "gb-18030",
    }
)
_UTF8_ALIASES = frozenset({"utf-8", "utf8", "utf_8", "unicode-1-1-utf-8", "utf8mb4", "x-utf-8"})
# WHATWG: these labels mean windows-1252 on the web, a strict superset of Latin-1 for text.
_CP1252_ALIASES = frozenset(
    {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii", "windows-1252"}
)
# Codecs that are not document charsets: escapes, domain names, and UTF-7 (an XSS vector that
# browsers refuse to honour).
_REFUSED = frozenset(
    {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "utf-7", "undefined"}
)
_BIG5_ALIASES = frozenset({"big5", "big-5", "cn-big5", "x-x-big5", "csbig5", "big5-hkscs"})

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:+-]+)""", re.I)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:+-]+)["']""", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:+-]+)""", re.I)
# How far into a document a <meta charset> may stand (browsers look at about 1 KB; Chinese
# portals often put scripts first, so look a little further).
_META_WINDOW = 4096

# Characters that make a GB18030 reading plausible: CJK ideographs and punctuation, fullwidth
# forms, general punctuation and symbols, Latin-1. Bytes forced into GB18030 land in private
# use, unassigned or rarely used blocks often enough to tell them apart.
_IMPLAUSIBLE = re.compile(
    "[^\x00-\x7f\xa0-\xff\u2000-\u206f\u2100-\u25ff\u3000-\u303f\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f]"
)
_HIGH_BYTES = bytes(range(0x80, 0x100))
_SINGLE_BYTE_FAMILIES = ("cp125", "iso8859", "latin", "mac_")
_NON_ASCII = re.compile("[^\x00-\x7f]")


@dataclass(frozen=True)
class Decoded:
    """A decoding and how it was reached, so callers can log a misdeclared charset."""

    text: str
    encoding: str
    declared: str | None  # the charset the document or server claimed, normalised
    note: str | None = None  # set when the declaration was wrong or the bytes were damaged


def normalise_charset_name(name: str | None) -> str:
    """The Python codec to use for a declared charset label, or "" when it is unusable.

    Aliases collapse to one name per family (all GB labels to "gb18030", Latin-1 labels to
    "cp1252", Big5 to "big5hkscs") so a declaration and a detection can be compared.
    """
    if not name:
        return ""
    label = name.strip().strip("\"'").lower()
    if not label:
        return ""
    if label in _GB_ALIASES:
        return "gb18030"
    if label in _UTF8_ALIASES:
        return "utf-8"
    if label in _CP1252_ALIASES:
        return "cp1252"
    if label in _BIG5_ALIASES:
        return "big5hkscs"
    try:
        codec = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return ""
    # Only text codecs that map bytes to str (not rot13, base64 and friends).
    if not getattr(codec, "_is_text_encoding", True) or codec.name in _REFUSED:
        return ""
    canonical = codec.name
    if canonical in {"utf-8", "utf_8"}:
        return "utf-8"
    if canonical in _GB_ALIASES:
        return "gb18030"
    return canonical


def header_value(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header looked up case-insensitively in any mapping (dict or multidict)."""
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if isinstance(key, str) and key.lower() == lowered:
            return val
    return None


def http_charset(headers: Mapping[str, str] | None) -> str:
    """The normalised charset parameter of a Content-Type header, or ""."""
    content_type = header_value(headers, "content-type") or ""
    match = _CHARSET_PARAM.search(content_type)
    return normalise_charset_name(match.group(1)) if match else ""


def document_charset(body: bytes) -> str:
    """The charset a document declares about itself (XML declaration or <meta>), or ""."""
    match = _XML_DECL.match(body[:1024])
    if match is None:
        match = _META_CHARSET.search(body[:_META_WINDOW])
    if match is None:
        return ""
    return normalise_charset_name(match.group(1).decode("ascii", "replace"))


def decode(body: bytes, headers: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Decode `body` to text; returns (text, encoding used). Never raises."""
    result = decode_detail(body, headers)
    return result.text, result.encoding


def decode_detail(body: bytes, headers: Mapping[str, str] | None = None) -> Decoded:
    """Like decode(), but also says what was declared and whether it was wrong."""
    if not body:
        return Decoded("", http_charset(headers) or "utf-8", http_charset(headers) or None)
    bom = _sniff_bom(body)
    if bom is not None:
        encoding, skip = bom
        return Decoded(body[skip:].decode(encoding, "replace"), encoding, encoding)

    declared = [c for c in (http_charset(headers), document_charset(body)) if c]
    declared = [c for c in dict.fromkeys(declared) if _could_be(c, body)]
    if not declared:
        utf16 = _sniff_utf16(body)
        if utf16:
            declared = [utf16]
    first = declared[0] if declared else None
    if "cp1252" in declared and _not_latin(body):
        # Latin-1 is many servers' default label (Tomcat, old Apache), not a statement about
        # the page, and it decodes nearly any bytes; trust it only for Latin-looking bodies.
        declared = [c for c in declared if c != "cp1252"]
    for encoding in declared:
        text = _strict(body, encoding)
        if text is not None:
            return Decoded(text, encoding, first)
    note = f"declared {first} but the bytes are not {first}" if first else None
    # Valid UTF-8 beats any label the bytes contradict: other multi-byte text almost never
    # forms valid UTF-8, while UTF-8 read as GB18030 fails only here and there (mojibake).
    if "utf-8" not in declared:
        text = _strict(body, "utf-8")
        if text is not None:
            return Decoded(text, "utf-8", first, note)

    # A declared charset that fails on a few bytes only is still right: the document is
    # damaged (e.g. a multi-byte character cut in half), not misdeclared.
    for encoding in declared:
        text = _mostly(body, encoding)
        if text is not None:
            return Decoded(text, encoding, first, f"some bytes are not valid {encoding}")
    return _detect(body, [*declared, "utf-8"], first, note)


def _detect(body: bytes, tried: list[str], declared: str | None, note: str | None) -> Decoded:
    """Decode by evidence once every declaration and UTF-8 have failed."""
    gb_text = _strict(body, "gb18030") if "gb18030" not in tried else None
    if gb_text is not None and _reads_as_chinese(gb_text):
        return Decoded(gb_text, "gb18030", declared, note)
    guess = _charset_normalizer_guess(body)
    if guess and guess not in tried:
        text = _strict(body, guess)
        if text is not None:
            return Decoded(text, guess, declared, note)
    if gb_text is not None:
        return Decoded(gb_text, "gb18030", declared, note)
    fallback = "; ".join(filter(None, [note, "undecodable bytes replaced"]))
    return Decoded(body.decode("utf-8", "replace"), "utf-8", declared, fallback)


def _not_latin(body: bytes) -> bool:
    """True when bytes labelled Latin-1 are really UTF-8 or Chinese.

    Western text is mostly ASCII; Chinese in any encoding is mostly high bytes. Valid UTF-8
    with high bytes is UTF-8 (Latin-1 text almost never forms valid multi-byte sequences).
    """
    high = len(body) - len(body.translate(None, _HIGH_BYTES))
    if high == 0:
        return False
    if _strict(body, "utf-8") is not None:
        return True
    if high * 5 < len(body):
        return False
    gb_text = _strict(body, "gb18030")
    return gb_text is not None and _reads_as_chinese(gb_text)


def _could_be(encoding: str, body: bytes) -> bool:
    # A UTF-16/32 label on a body whose first bytes hold no NUL is a copy-paste error in the
    # declaration: such bodies are ASCII-compatible, and reading them as UTF-16 gives garbage.
    if encoding.startswith(("utf-16", "utf-32", "utf_16", "utf_32")):
        return b"\x00" in body[:4]
    return True


def _sniff_bom(body: bytes) -> tuple[str, int] | None:
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding, len(bom)
    return None


def _sniff_utf16(body: bytes) -> str:
    # XML spec appendix F: "<?" in UTF-16 without a byte-order mark.
    if body.startswith(b"<\x00?\x00"):
        return "utf-16-le"
    if body.startswith(b"\x00<\x00?"):
        return "utf-16-be"
    return ""


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


def _mostly(body: bytes, encoding: str) -> str | None:
    """Decode with replacement if at most one character in 200 is bad, else None."""
    try:
        text = body.decode(encoding, "replace")
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None
    bad = text.count("\ufffd")
    return text if bad * 200 <= len(text) else None


def _reads_as_chinese(text: str) -> bool:
    """True when a GB18030 reading looks like real text, not bytes forced into characters."""
    sample = text[:20000]
    non_ascii = len(_NON_ASCII.findall(sample))
    implausible = len(_IMPLAUSIBLE.findall(sample))
    return implausible * 50 <= non_ascii


def _charset_normalizer_guess(body: bytes) -> str:
    """charset-normalizer's pick, preferring windows-1252 among near-equal single-byte guesses
    (the detector often ranks a Baltic or Central European code page first for French)."""
    try:
        from charset_normalizer import from_bytes

        matches = list(from_bytes(body[:200_000]))
        if not matches or not matches[0].encoding:
            return ""
        best = matches[0]
        if best.encoding.startswith(_SINGLE_BYTE_FAMILIES):
            for match in matches:
                near = match.chaos <= best.chaos + 0.2
                if near and "cp1252" in (match.could_be_from_charset or [match.encoding]):
                    return "cp1252"
        return normalise_charset_name(best.encoding)
    except Exception:  # the detector is a heuristic; any failure means "no guess"
        return ""
