"""The topic taxonomy: editable data (TOML) loaded into frozen values and one term index.

Topics are data, not code: each has a slug, a Chinese name, weighted terms (how strongly a
phrase indicates the topic), optional negative terms (phrases that count against it) and an
optional `requires` list (the topic is only given when one of those strings occurs). Users can
replace the packaged `aggregator/data/topics.toml` with their own file; every mistake in it is
reported as a ConfigError naming the file, the topic and the field.

Two ideas carry the matching. First, text and terms go through the same `normalise` (drop
whitespace and quote marks, fold full-width ASCII and case), so a layout line break inside a
word or quotes around a phrase (村“两委”) do not hide a term. Second, all terms of all topics,
their traditional-character spellings and the global `ignore` phrases compile into one
Aho-Corasick automaton matched leftmost-longest: a longer phrase (环境卫生, 全国政协主席)
consumes the shorter terms inside it, which is how phrases are kept from counting for the
wrong topic.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from aggregator.errors import ConfigError

PACKAGED = "aggregator/data/topics.toml"

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_MAX_WEIGHT = 100.0

# Deleted before matching: whitespace (e-paper line breaks fall mid-word) and quote/title marks
# (terms are written bare: 两委换届 must match 村“两委”换届).
_DELETE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\u200b\ufeff"
_DELETE += "\"'`“”‘’「」『』《》〈〉"
_TABLE: dict[int, int | None] = {ord(c): None for c in _DELETE}
_TABLE.update({c: c + 0x20 for c in range(ord("A"), ord("Z") + 1)})
for _c in range(0xFF01, 0xFF5F):  # full-width ASCII → ASCII, then case-folded
    _ch = chr(_c - 0xFEE0)
    _TABLE[_c] = ord(_ch.lower()) if _ch not in _DELETE else None


def normalise(text: str) -> str:
    """The form both terms and texts are matched in (see module docstring)."""
    return text.translate(_TABLE)


@dataclass(frozen=True)
class Topic:
    """One topic; weights are positive, negative-term weights are subtracted."""

    slug: str
    name: str
    terms: tuple[tuple[str, float], ...]
    negative: tuple[tuple[str, float], ...] = ()
    requires: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Scoring:
    """Tunables of the tagger, kept in the same file so users can adjust them with the terms."""

    title_weight: float = 2.0  # a term in the headline counts this many times its weight
    lede_length: int = 150  # the lede: the body's first sentence, at most this long
    lede_weight: float = 1.0  # a term in the lede adds this many times its weight, unscaled
    reference_length: int = 400  # body evidence is divided by sqrt(max(len, this) / this)
    threshold: float = 6.0  # minimum topic score; maps to a reported score of 0.5
    relative: float = 0.25  # a topic in headline or lede must reach this share of the best
    relative_body: float = 0.45  # the share a topic found only further down must reach
    short_text: int = 60  # bodies shorter than this (in matched characters) are "short"
    short_min_terms: int = 2  # distinct terms a topic needs in a short text
    max_topics: int = 5
    default_factor: float = 0.5  # threshold multiplier for the source's default topics
    default_score: float = 0.1  # reported score of a default topic without enough evidence
    office_title_factor: float = 0.25  # weight of a term followed by an office title


@dataclass(frozen=True)
class TermIndex:
    """The compiled automaton (leftmost-longest, see multimatch.WordMatcher); each value is
    (canonical term, ((topic index, weight), ...))."""

    automaton: Any
    size: int  # number of keys, variants included
    requires: tuple[tuple[str, ...], ...] = ()  # per topic, `requires` with its variants


@dataclass(frozen=True)
class Taxonomy:
    topics: tuple[Topic, ...]
    scoring: Scoring = Scoring()
    ignore: tuple[str, ...] = ()  # phrases that are never evidence but shadow terms inside them
    office_titles: tuple[str, ...] = ()  # 局长, 主任…: "X局局长" names a person, not X's work
    traditional: bool = True  # also match traditional-character spellings of every term
    source: str = PACKAGED
    _slugs: dict[str, int] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_slugs", {t.slug: i for i, t in enumerate(self.topics)})

    def get(self, slug: str) -> Topic | None:
        i = self._slugs.get(slug)
        return None if i is None else self.topics[i]

    def position(self, slug: str) -> int | None:
        return self._slugs.get(slug)

    @property
    def names(self) -> dict[str, str]:
        """slug → Chinese name, in file order (for feed titles and menus)."""
        return {t.slug: t.name for t in self.topics}

    def unknown(self, slugs: Iterable[str]) -> list[str]:
        """The slugs that are not topics here; for validating sources' default topics."""
        return [s for s in slugs if s not in self._slugs]

    @cached_property
    def index(self) -> TermIndex:
        """Built on first use and kept on the (frozen) instance: one automaton per taxonomy."""
        return _build_index(self)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Load and validate a taxonomy file; None means the packaged default."""
    if path is None:
        ref = resources.files("aggregator.data").joinpath("topics.toml")
        return parse_taxonomy(ref.read_text(encoding="utf-8"), source=PACKAGED)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the topic taxonomy: {exc}") from exc
    return parse_taxonomy(text, source=str(path))


def parse_taxonomy(text: str, *, source: str = "<string>") -> Taxonomy:
    """Validate TOML text into a Taxonomy; `source` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    _only(data, {"version", "scoring", "matching", "topic"}, f"{source}: top level")
    version = data.get("version", 1)
    if version != 1:
        raise ConfigError(
            f"{source}: field 'version': only version 1 is understood, got {version!r}"
        )
    scoring = _scoring(data.get("scoring", {}), source)
    matching = data.get("matching", {})
    if not isinstance(matching, Mapping):
        raise ConfigError(f"{source}: [matching] must be a table")
    _only(matching, {"ignore", "office_titles", "traditional"}, f"{source}: [matching]")
    ignore = _phrases(matching.get("ignore", []), f"{source}: [matching] field 'ignore'")
    titles = _phrases(
        matching.get("office_titles", []), f"{source}: [matching] field 'office_titles'"
    )
    traditional = matching.get("traditional", True)
    if not isinstance(traditional, bool):
        raise ConfigError(f"{source}: [matching] field 'traditional' must be true or false")
    raw_topics = data.get("topic")
    if not isinstance(raw_topics, list) or not raw_topics:
        raise ConfigError(f"{source}: no topics: add at least one [[topic]] table")
    topics: list[Topic] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(raw_topics, 1):
        topic = _topic(raw, n, source)
        if topic.slug in seen:
            raise ConfigError(
                f"{source}: topic #{n} field 'slug': {topic.slug!r} is already used by topic "
                f"#{seen[topic.slug]}; slugs must be unique"
            )
        seen[topic.slug] = n
        topics.append(topic)
    return Taxonomy(
        topics=tuple(topics),
        scoring=scoring,
        ignore=ignore,
        office_titles=titles,
        traditional=traditional,
        source=source,
    )


def _only(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ConfigError(
            f"{where}: unknown field {extra[0]!r} (expected one of: {', '.join(sorted(allowed))})"
        )


def _scoring(raw: Any, source: str) -> Scoring:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: [scoring] must be a table")
    defaults = Scoring()
    _only(raw, set(defaults.__dataclass_fields__), f"{source}: [scoring]")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        want = type(getattr(defaults, key))
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if want is int:
            ok = ok and float(value).is_integer()
        if not ok or not math.isfinite(value) or value < 0:
            raise ConfigError(
                f"{source}: [scoring] field {key!r} must be a non-negative number, got {value!r}"
            )
        values[key] = want(value)
    for key in ("threshold", "reference_length", "title_weight", "max_topics"):
        if key in values and values[key] <= 0:
            raise ConfigError(f"{source}: [scoring] field {key!r} must be greater than 0")
    for key in (
        "relative",
        "relative_body",
        "default_factor",
        "default_score",
        "office_title_factor",
    ):
        if key in values and values[key] > 1:
            raise ConfigError(f"{source}: [scoring] field {key!r} must be between 0 and 1")
    return Scoring(**values)


def _phrases(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ConfigError(f"{where}: must be a list of strings")
    out = []
    for p in raw:
        norm = normalise(p)
        if not norm:
            raise ConfigError(f"{where}: {p!r} is empty once spaces and quotes are removed")
        out.append(norm)
    return tuple(dict.fromkeys(out))


def _topic(raw: Any, n: int, source: str) -> Topic:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: topic #{n} must be a table")
    slug = raw.get("slug")
    label = f"{source}: topic #{n}" + (f" ({slug!r})" if isinstance(slug, str) else "")
    _only(raw, {"slug", "name", "description", "terms", "negative", "requires"}, label)
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise ConfigError(
            f"{label} field 'slug': must be lowercase letters, digits and single hyphens "
            f"(e.g. 'work-safety'), got {slug!r}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{label} field 'name': must be a non-empty string")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{label} field 'description': must be a string")
    terms = _weights(raw.get("terms"), f"{label} field 'terms'", allow_zero=False)
    if not terms:
        raise ConfigError(f"{label} field 'terms': needs at least one term")
    negative = _weights(raw.get("negative", {}), f"{label} field 'negative'", allow_zero=True)
    clash = {t for t, _ in terms} & {t for t, _ in negative}
    if clash:
        raise ConfigError(
            f"{label}: {sorted(clash)[0]!r} is both in 'terms' and in 'negative'; keep one"
        )
    requires = _phrases(raw.get("requires", []), f"{label} field 'requires'")
    return Topic(slug, name.strip(), terms, negative, requires, description)


def _weights(raw: Any, where: str, *, allow_zero: bool) -> tuple[tuple[str, float], ...]:
    if raw is None:
        raise ConfigError(f'{where}: missing; give a table of "term" = weight')
    if not isinstance(raw, Mapping):
        raise ConfigError(f'{where}: must be a table of "term" = weight')
    out: dict[str, float] = {}
    for term, weight in raw.items():
        low = 0 if allow_zero else 0 + 1e-9
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
            or not low <= weight <= _MAX_WEIGHT
        ):
            bound = ">= 0" if allow_zero else "> 0"
            raise ConfigError(
                f"{where}: weight of {term!r} must be a number {bound} and <= {_MAX_WEIGHT:g}, "
                f"got {weight!r}"
            )
        norm = normalise(term)
        if not norm:
            raise ConfigError(f"{where}: term {term!r} is empty once spaces and quotes are removed")
        if norm in out:
            raise ConfigError(f"{where}: term {term!r} is listed twice")
        out[norm] = float(weight)
    return tuple(out.items())


def _variants(term: str, converters: list[Any]) -> set[str]:
    return {normalise(c.convert(term)) for c in converters} | {term}


def _build_index(tax: Taxonomy) -> TermIndex:
    # imported here so loading and validating need no C extension
    from aggregator.multimatch import WordMatcher

    converters: list[Any] = []
    if tax.traditional:
        import opencc

        converters = [opencc.OpenCC(c) for c in ("s2t", "s2hk", "s2tw")]
    contribs: dict[str, dict[int, float]] = {}
    for i, topic in enumerate(tax.topics):
        for term, weight in topic.terms:
            contribs.setdefault(term, {})[i] = weight
        for term, weight in topic.negative:
            contribs.setdefault(term, {})[i] = -weight
    for phrase in tax.ignore:
        contribs.setdefault(phrase, {})
    words: dict[str, tuple] = {}
    size = 0
    for term, by_topic in contribs.items():
        payload = (term, tuple(by_topic.items()))
        for key in sorted(_variants(term, converters)):
            # A variant that is itself a canonical term keeps its own entry.
            if key != term and key in contribs:
                continue
            words[key] = payload
            size += 1
    auto = WordMatcher(words, longest=True)
    requires = tuple(
        tuple(sorted(set().union(*(_variants(r, converters) for r in t.requires))))
        for t in tax.topics
    )
    return TermIndex(automaton=auto, size=size, requires=requires)
