"""Full-text index text and queries that work for unspaced Chinese.

SQLite's unicode61 tokenizer would treat a run of Chinese characters as one token, and the
trigram tokenizer cannot match two-character words (信访, 反诈). So the indexed text gets a
space between CJK characters, making each one a token, and a query for a Chinese word becomes
a phrase of its characters: adjacent tokens in order, which is exactly a substring match.
"""

from __future__ import annotations

import re

# CJK unified ideographs (with extension A), compatibility ideographs, and CJK punctuation-free
# letters; other scripts stay whole words for unicode61.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_QUERY_TOKEN = re.compile(f'"[^"]*"|[{_CJK}]+|[^\\s{_CJK}"]+')
_WORD = re.compile(r"[\w]+", re.UNICODE)

MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 12


_SPACED: dict[int, str] = {}


def index_text(text: str) -> str:
    """Text as it is stored in the index: every CJK character a token of its own.

    A translation table does this in C, about eight times faster than a regex substitution."""
    if not _SPACED:
        for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)):
            _SPACED.update((cp, f" {chr(cp)} ") for cp in range(lo, hi + 1))
    return text.translate(_SPACED)


def _phrase(term: str) -> str | None:
    tokens = _WORD.findall(index_text(term))
    if not tokens:
        return None
    return '"' + " ".join(tokens) + '"'


def match_query(query: str) -> str | None:
    """FTS5 MATCH expression for a user's query: all terms must match (AND).

    Each whitespace-separated term, or "quoted phrase", becomes a phrase of its tokens, so
    FTS5 operators and punctuation in user input are inert. Returns None for an empty query.
    """
    query = query[:MAX_QUERY_CHARS]
    phrases = []
    for raw in _QUERY_TOKEN.findall(query):
        phrase = _phrase(raw.strip('"'))
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    if not phrases:
        return None
    return " AND ".join(phrases[:MAX_QUERY_TERMS])
