"""Decide which story a new article belongs to: the pure half of merging.

`plan(article, candidates)` compares a new article with the canonical article of each candidate
story (never with other members, so similarity cannot chain from copy to copy) and says: join
story X by this method with this similarity and evidence, or start a new story; which other
stories turn out to be the same one; and which are related coverage of the same event.

What separates "the same text carried by another outlet" from "another text":
- exact normalised text; or a high Jaccard similarity of 5-gram shingles (light edits,
  traditional copies); or most of the shorter text contained in the longer one, provided the
  shorter is not a mere fragment of it (abridged reprints; not one brief of a roundup).
- Short items (简讯, under 200 normalised characters) carry few shingles, so they need more:
  near-exact text, the same headline with much of the same text, or enough shared text with
  not one number differing. Their texts are compared exactly, not by estimate.
- Templated reports (yesterday's and today's case count) share almost all their words, so
  numbers decide: the same number contexts holding other numbers make another report, even
  when the rest is identical; any member of a story can veto on these grounds.
The storage edge (store_stories.py) fetches the candidates and applies the plan. Thresholds
were set on labelled variants of real articles (bench/merge_eval.py), not on one corpus pair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .fingerprint import (
    Signature,
    containment,
    jaccard,
    number_agreement,
    shingles,
    title_similarity,
)

#: Texts shorter than this (normalised characters) count as short items.
SHORT = 200
#: Below this many characters a text cannot carry a story by itself (photo items, headlines
#: without a body): only the same text under the same headline merges.
TINY = 20
#: Jaccard similarity at or above which two texts are the same story…
J_SAME = 0.6
#: …or the share of the shorter text found in the longer one…
C_SAME = 0.8
#: …provided the shorter has at least this share of the longer's shingles.
RATIO_MIN = 0.25
#: Short items: near-exact text merges outright;
J_SHORT_EXACT = 0.9
#: the same headline (bigram Jaccard) with this Jaccard, or containment at half the length;
TITLE_AGREE = 0.7
J_SHORT_TITLED = 0.5
#: otherwise, with no number differing, J_SAME over at least MIN_SHARED_J shared shingles,
#: C_SHORT over at least MIN_SHARED, or every sentence but one found word for word (a
#: paragraph added) covering MIN_SHARED_J characters and C_SENTENCES of the text.
C_SHORT = 0.8
MIN_SHARED = 40
MIN_SHARED_J = 60
C_SENTENCES = 0.6
#: Short texts whose estimates reach these are compared exactly (see `worth_exact`).
J_EXACT_ZONE = 0.12
C_EXACT_ZONE = 0.3
#: Number contexts: this share (or more) of conflicting ones marks a templated look-alike.
CONFLICT_SHARE = 0.2
#: Related coverage: shared text below the merge thresholds…
J_RELATED = 0.2
C_RELATED = 0.45
#: …or a similar headline within two days, with at least some shared text.
TITLE_RELATED = 0.4
RELATED_WINDOW = timedelta(days=2)
J_TITLE_RELATED = 0.05
C_TITLE_RELATED = 0.25

_METHOD_RANK = {"exact": 4, "minhash": 3, "containment": 2, "title": 1}


@dataclass(frozen=True)
class ArticleView:
    """What the decider knows of one article: its fingerprint and what ranks it as canonical."""

    id: int
    signature: Signature
    title: str = ""  # normalised headline (normalise.normalise_title)
    published: datetime | None = None  # timezone-aware; None sorts last
    priority: int = 0  # outlet priority from the sources' TOML; higher wins ties
    outlet: str | None = None
    text: str = ""  # normalised text, when at hand, for exact comparison of short texts
    sentences: tuple[str, ...] = ()  # its normalised sentences, when the text is at hand


@dataclass(frozen=True)
class CandidateView:
    """A story the new article might belong to, seen through its canonical article."""

    story_id: str
    seq: int  # creation order: the lower (older) id survives when two stories become one
    canonical: ArticleView
    # Other members, consulted only to veto: a story never holds two editions of a template.
    members: tuple[ArticleView, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """Every measurement behind a decision, stored as the evidence of a merge or link."""

    against: int  # the canonical article compared with
    exact: bool
    jaccard: float
    containment: float
    ratio: float  # smaller shingle count / larger
    shared: int  # estimated shingles in common
    short: bool
    numbers_agree: int
    numbers_conflict: int
    title_similarity: float
    hours_apart: float | None
    # Short texts only: characters of the shorter text in sentences found verbatim in the
    # other, and how many of its sentences were not found.
    sentence_chars: int = 0
    sentences_missing: int | None = None

    @property
    def templated(self) -> bool:
        """Same number contexts with other numbers: two editions of one template."""
        return _templated(self.numbers_agree, self.numbers_conflict)

    def as_dict(self) -> dict[str, object]:
        return {
            "against": self.against,
            "exact": self.exact,
            "jaccard": round(self.jaccard, 3),
            "containment": round(self.containment, 3),
            "ratio": round(self.ratio, 3),
            "shared": self.shared,
            "short": self.short,
            "numbers": [self.numbers_agree, self.numbers_conflict],
            "title_similarity": round(self.title_similarity, 3),
            "hours_apart": None if self.hours_apart is None else round(self.hours_apart, 1),
            "sentences": None
            if self.sentences_missing is None
            else [self.sentence_chars, self.sentences_missing],
        }


@dataclass(frozen=True)
class Match:
    """The new article is the same story as `story_id`'s canonical article."""

    story_id: str
    seq: int
    method: str  # exact | minhash | containment | title
    similarity: float
    evidence: Comparison


@dataclass(frozen=True)
class Link:
    """Related coverage: another write-up of the same event, linked but not merged."""

    story_id: str
    score: float
    method: str  # text | title | bridge
    evidence: Comparison


@dataclass(frozen=True)
class MergePlan:
    """What to do with a new article; store_stories applies it in one transaction."""

    join: Match | None  # None: the article starts a new story
    becomes_canonical: bool  # the article becomes (or, for a new story, is) the canonical
    absorb: tuple[Match, ...] = ()  # other stories that turn out to be this one
    related: tuple[Link, ...] = ()

    @property
    def new_story(self) -> bool:
        return self.join is None


def compare(a: ArticleView, b: ArticleView) -> Comparison:
    """Measure two articles against each other.

    From the stored fingerprints, except when both normalised texts are at hand (the storage
    edge supplies them for short canonicals): then Jaccard and containment are counted
    exactly, because a short text has too few shingles for a 128-value estimate near a
    threshold.
    """
    sa, sb = a.signature, b.signature
    kept, missing = 0, None
    if a.text and b.text:
        ga, gb = set(shingles(a.text)), set(shingles(b.text))
        inter = len(ga & gb)
        small, large = sorted((len(ga), len(gb)))
        j = inter / (small + large - inter)
        c = inter / small
        shorter, longer = sorted((a, b), key=lambda v: len(v.text))
        kept, missing = _sentences_found(shorter.sentences, longer.text)
    else:
        j = jaccard(sa, sb)
        small, large = sorted((sa.shingles, sb.shingles))
        c = containment(sa, sb, j)
        inter = round(j * (small + large) / (1.0 + j))
    agree, conflict = number_agreement(sa, sb)
    hours = None
    if a.published is not None and b.published is not None:
        hours = abs((a.published - b.published).total_seconds()) / 3600.0
    return Comparison(
        against=b.id,
        exact=sa.text_hash == sb.text_hash and not sa.empty,
        jaccard=j,
        containment=c,
        ratio=small / large if large else 0.0,
        shared=inter,
        short=min(sa.length, sb.length) < SHORT,
        numbers_agree=agree,
        numbers_conflict=conflict,
        title_similarity=title_similarity(a.title, b.title),
        hours_apart=hours,
        sentence_chars=kept,
        sentences_missing=missing,
    )


def worth_exact(article: ArticleView, canonical: ArticleView) -> bool:
    """Whether counting exactly could change the decision: a short text whose estimated
    similarity is not far below every threshold. The storage edge loads and normalises the
    canonical's text only then; for the many candidates that merely share a headline
    bigram or a stock sentence, the estimate settles it."""
    sa, sb = article.signature, canonical.signature
    if min(sa.length, sb.length) >= SHORT or sa.empty or sb.empty:
        return False
    j = jaccard(sa, sb)
    return j >= J_EXACT_ZONE or containment(sa, sb, j) >= C_EXACT_ZONE


def _sentences_found(sentences: Sequence[str], other: str) -> tuple[int, int]:
    """(characters in sentences found verbatim in `other`, sentences not found)."""
    kept = missing = 0
    for sentence in sentences:
        if sentence in other:
            kept += len(sentence)
        else:
            missing += 1
    return kept, missing


def same_story(cmp: Comparison, tiny: bool = False) -> tuple[str, float] | None:
    """(method, similarity) when the comparison shows the same text, else None."""
    if tiny:
        if cmp.exact and cmp.title_similarity >= 1.0:
            return "exact", 1.0
        return None
    if cmp.exact:
        return "exact", 1.0
    if cmp.templated:
        return None
    if cmp.short:
        return _same_short(cmp)
    if cmp.jaccard >= J_SAME:
        return "minhash", cmp.jaccard
    if cmp.containment >= C_SAME and cmp.ratio >= RATIO_MIN:
        return "containment", cmp.containment
    return None


def _same_short(cmp: Comparison) -> tuple[str, float] | None:
    if cmp.jaccard >= J_SHORT_EXACT:
        return "minhash", cmp.jaccard
    if cmp.title_similarity >= TITLE_AGREE and (
        cmp.jaccard >= J_SHORT_TITLED or (cmp.containment >= C_SAME and cmp.ratio >= 0.5)
    ):
        return "title", cmp.jaccard
    if cmp.numbers_conflict:
        return None
    if cmp.jaccard >= J_SAME and cmp.shared >= MIN_SHARED_J:
        return "minhash", cmp.jaccard
    if cmp.ratio < RATIO_MIN:
        return None
    if cmp.containment >= C_SHORT and cmp.shared >= MIN_SHARED:
        return "containment", cmp.containment
    if (
        cmp.sentences_missing is not None
        and cmp.sentences_missing <= 1
        and cmp.sentence_chars >= MIN_SHARED_J
        and cmp.containment >= C_SENTENCES
    ):
        return "containment", cmp.containment
    return None


def related(cmp: Comparison) -> tuple[str, float] | None:
    """(method, score) when two different texts look like coverage of one event."""
    if cmp.templated:
        return None
    text_score = max(cmp.jaccard, cmp.containment * min(1.0, 2 * cmp.ratio))
    if cmp.jaccard >= J_RELATED or (cmp.containment >= C_RELATED and cmp.ratio >= 0.1):
        return "text", round(text_score, 3)
    near = cmp.hours_apart is not None and cmp.hours_apart <= RELATED_WINDOW.total_seconds() / 3600
    if (
        near
        and cmp.title_similarity >= TITLE_RELATED
        and (cmp.jaccard >= J_TITLE_RELATED or cmp.containment >= C_TITLE_RELATED)
    ):
        return "title", round((cmp.title_similarity + text_score) / 2, 3)
    return None


def _templated_member(article: ArticleView, members: Sequence[ArticleView]) -> bool:
    """Whether some member's numbers say it is another edition of the article's template.

    Similarity is judged against the canonical only; members can only veto. A canonical
    without numbers (a reprint that dropped them) cannot tell two editions apart, a member
    that kept them can.
    """
    return any(_templated(*number_agreement(article.signature, m.signature)) for m in members)


def _templated(agree: int, conflict: int) -> bool:
    return conflict > 0 and conflict >= CONFLICT_SHARE * (agree + conflict)


def canonical_key(view: ArticleView) -> tuple:
    """Sort key of canonical choice: earliest published, then outlet priority, then longest."""
    published = view.published.timestamp() if view.published is not None else float("inf")
    return (published, -view.priority, -view.signature.length, view.id)


def choose_canonical(members: Sequence[ArticleView]) -> ArticleView:
    """The member a story shows: see `canonical_key`."""
    return min(members, key=canonical_key)


def plan(
    article: ArticleView,
    candidates: Sequence[CandidateView],
    compared: Mapping[str, Comparison] | None = None,
) -> MergePlan:
    """Decide where `article` goes, from the canonical articles of candidate stories.

    `compared` may hold comparisons already made (by story id), when the caller plans again
    with more members loaded.
    """
    tiny = article.signature.length < TINY
    matches: list[Match] = []
    links: list[Link] = []
    for cand in sorted(candidates, key=lambda c: c.seq):
        if cand.canonical.id == article.id:
            continue
        cmp = (compared or {}).get(cand.story_id) or compare(article, cand.canonical)
        verdict = same_story(cmp, tiny or cand.canonical.signature.length < TINY)
        if verdict is not None and _templated_member(article, cand.members):
            continue
        if verdict is not None:
            method, sim = verdict
            matches.append(Match(cand.story_id, cand.seq, method, round(sim, 3), cmp))
            continue
        rel = related(cmp)
        if rel is not None:
            links.append(Link(cand.story_id, rel[1], rel[0], cmp))
    if not matches:
        return MergePlan(None, True, (), tuple(links))
    best = max(matches, key=lambda m: (_METHOD_RANK[m.method], m.similarity, -m.seq))
    by_story = {c.story_id: c for c in candidates}
    anchor = by_story[best.story_id].canonical
    earliest = all(
        canonical_key(article) < canonical_key(by_story[m.story_id].canonical) for m in matches
    )
    # Stories fold into the joined one only when verified directly: against the article when
    # it becomes the canonical of all of them, else canonical against canonical; and never
    # when a member of one is another edition of a template found in the other.
    together = [article, *_group(by_story[best.story_id])]
    absorb, bridges = [], []
    for m in matches:
        if m is best:
            continue
        cand = by_story[m.story_id]
        direct = earliest or same_story(compare(cand.canonical, anchor)) is not None
        if direct and not any(_templated_member(v, together) for v in _group(cand)):
            absorb.append(m)
            together.extend(_group(cand))
        else:
            bridges.append(Link(m.story_id, m.similarity, "bridge", m.evidence))
    ranked = [article, anchor, *(by_story[m.story_id].canonical for m in absorb)]
    return MergePlan(best, choose_canonical(ranked) is article, tuple(absorb), (*links, *bridges))


def _group(cand: CandidateView) -> tuple[ArticleView, ...]:
    return (cand.canonical, *cand.members)
