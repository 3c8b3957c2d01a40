"""Find many words in one text at once: every occurrence, or the leftmost-longest ones.

Both taggers scan each article for thousands of words (place names, topic terms) with an
Aho-Corasick automaton. pyahocorasick looks a node's children up one by one, which is slow at
the root, where a Chinese gazetteer has well over a thousand: every character that starts no
word costs a full pass over them. ahocorasick_rs (Rust) compiles the words into a DFA-like
table and scans an article about ten times faster. It is used when installed and pyahocorasick
otherwise; both give the same matches in the same form, (index of the last character, value),
which tests/test_tag_topics.py and tests/test_tag_regions.py check on real and adversarial text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

try:  # the fast backend; optional, so a missing wheel costs speed only
    import ahocorasick_rs as _rs
except ImportError:  # pragma: no cover - depends on the installation
    _rs = None

V = TypeVar("V")


class WordMatcher(Generic[V]):
    """An immutable set of words with a value each, matched all at once against texts.

    `longest=False`: every occurrence of every word, overlapping ones included.
    `longest=True`: scanning left to right, the longest word starting at the leftmost
    position, then on after its end (so a phrase hides the shorter words inside it).
    """

    def __init__(self, words: Mapping[str, V], *, longest: bool = False,
                 backend: str | None = None) -> None:
        self._words: dict[str, V] = {w: v for w, v in words.items() if w}
        self.longest = longest
        self.backend = backend or ("rs" if _rs is not None else "py")
        keys = list(self._words)
        self._values = [self._words[k] for k in keys]
        self._find: Any
        if self.backend == "rs":
            if _rs is None:
                raise ImportError("ahocorasick_rs is not installed")
            kind = _rs.MatchKind.LeftmostLongest if longest else _rs.MatchKind.Standard
            self._find = _rs.AhoCorasick(keys, matchkind=kind).find_matches_as_indexes
        else:
            import ahocorasick

            auto = ahocorasick.Automaton()
            for i, key in enumerate(keys):
                auto.add_word(key, i)
            if keys:
                auto.make_automaton()
            self._auto = auto if keys else None

    def find(self, text: str) -> list[tuple[int, V]]:
        """(index of the match's last character, the word's value) for each match, in order
        of the match's end (leftmost-longest: of its position)."""
        if not text or not self._words:
            return []
        values = self._values
        if self.backend == "rs":
            found = self._find(text) if self.longest else self._find(text, overlapping=True)
            return [(end - 1, values[i]) for i, _start, end in found]
        scan = self._auto.iter_long(text) if self.longest else self._auto.iter(text)
        return [(end, values[i]) for end, i in scan]

    def get(self, word: str, default: Any = None) -> V | Any:
        return self._words.get(word, default)

    def __contains__(self, word: object) -> bool:
        return word in self._words

    def __len__(self) -> int:
        return len(self._words)

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)
