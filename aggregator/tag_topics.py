"""Tag an article with topics from the taxonomy: multi-label, scored, explained by terms.

The idea: a topic is what an article is about, not what it mentions once. One pass of the
taxonomy's Aho-Corasick automaton over headline + body collects term hits. A topic's evidence
is the sum of its term weights, with

* repeats counted sublinearly (1 + ln n), so one phrase cannot carry a topic alone;
* body evidence divided by sqrt(length / reference_length), so a long report does not collect
  every topic from one passing sentence;
* headline hits multiplied (`title_weight`) and lede hits (the first sentence, at most
  `lede_length` characters: the 导语 where a Chinese report states its subject) added once
  more, both unscaled;
* negative terms subtracted.

A topic is given when its evidence reaches `threshold` and a share of the best topic's: the
article's main subject sets the bar for side topics. The share is `relative` for a topic named in
the headline or the lede and the higher `relative_body` for one that only turns up further down
(a laundry-list meeting report touches many topics but is about those in its lede). Every topic
needs at least two hits (one term twice will do): a single mention is a passing mention however
strong the word. Short texts (headline only, or a body under `short_text` characters) need
`short_min_terms` distinct terms, because one word is too little to go on.

Source default topics (SourceDef.topics) are a weak prior, with this rule: a default topic with
some evidence needs only `default_factor` of the threshold and one hit of one term, and is
exempt from the relative bars and the cap; a default topic without enough evidence is still returned, last,
with the low fixed score `default_score`: the source was declared to be about it, but with no
words to show for it the tag ranks below every evidenced one. Reported scores map evidence onto
0..1 with the threshold at 0.5; with the packaged settings any score below 0.25 is a prior-only
tag.

Office titles: a term directly followed by 局长/主任/主席… ("公安分局局长某某参加会议") names a
person in an attendance list, so that hit counts only `office_title_factor` of its weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from aggregator.model import TopicTag
from aggregator.taxonomy import Scoring, Taxonomy, normalise

_SEP = "\x00"  # never inside a term, so no match spans headline and body
_MAX_TERMS = 6  # terms reported per tag, strongest first
_SENTENCE_END = ("。", "！", "？", "!", "?")
_MIN_LEDE = 20  # a sentence end earlier than this is a dateline or a quote, not the lede
_MIN_HITS = 2.0  # occurrences a topic needs (office-title hits count a quarter)
_PROMINENT = 2.0  # a supporting term (weight < 2) in headline or lede does not make a topic core


@dataclass
class _Evidence:
    """Running evidence for one topic while an article is scored."""

    body: float = 0.0  # length-normalised later
    front: float = 0.0  # headline and lede: not length-normalised
    prominent: bool = False  # a positive term in headline or lede
    hits: float = 0.0  # occurrences of positive terms (headline ones included)
    terms: dict[str, float] = field(default_factory=dict)  # positive term → contribution

    def total(self, norm: float) -> float:
        return self.front + self.body / norm


def tag_topics(
    title: str,
    text: str,
    *,
    taxonomy: Taxonomy,
    defaults: tuple[str, ...] = (),
) -> tuple[TopicTag, ...]:
    """Topics of one article, best first; see the module docstring for the rules."""
    sc = taxonomy.scoring
    head, body = normalise(title or ""), normalise(text or "")
    found = _collect(head, body, taxonomy)
    norm = math.sqrt(max(len(body), sc.reference_length) / sc.reference_length)
    short = len(body) < sc.short_text
    wanted = {p for p in map(taxonomy.position, defaults) if p is not None}

    passed: dict[int, float] = {}
    for i, ev in found.items():
        score = ev.total(norm)
        prior = i in wanted
        need_terms = 1 if prior or not short else sc.short_min_terms
        if score < sc.threshold * (sc.default_factor if prior else 1.0):
            continue
        if ev.hits < _MIN_HITS and not prior:
            continue  # a single mention is a passing mention, however strong the word
        if len(ev.terms) < need_terms or not _required(taxonomy, i, head, body):
            continue
        passed[i] = score
    best = max((s for i, s in passed.items() if i not in wanted), default=0.0)

    def keeps(i: int) -> bool:
        share = sc.relative if found[i].prominent else sc.relative_body
        return i in wanted or passed[i] >= share * best

    kept = sorted((i for i in passed if keeps(i)), key=lambda i: -passed[i])
    extra = [i for i in kept[sc.max_topics :] if i in wanted]  # declared topics are never cut
    kept = kept[: sc.max_topics] + extra

    tags = [_tag(taxonomy, i, _unit(passed[i], sc.threshold), found[i].terms) for i in kept]
    for i in sorted(wanted - set(kept)):
        terms = found[i].terms if i in found else {}
        tags.append(_tag(taxonomy, i, sc.default_score, terms))
    return tuple(tags)


def _collect(head: str, body: str, tax: Taxonomy) -> dict[int, _Evidence]:
    """One automaton pass; topic index → evidence (topics with no positive term dropped)."""
    sc: Scoring = tax.scoring
    hay = head + _SEP + body
    split = len(head)
    lede_end = split + 1 + _lede_length(body, sc.lede_length)
    suffixes = tax.office_titles
    title_hits: dict[str, tuple] = {}
    lede_hits: dict[str, tuple] = {}
    body_hits: dict[str, list] = {}  # term → [contributions, discounted count]
    for end, (term, contribs) in tax.index.automaton.find(hay):
        if not contribs:
            continue  # an `ignore` phrase: it only shadows what is inside it
        if end < split:
            title_hits[term] = contribs
            continue
        weight = 1.0
        if suffixes and hay.startswith(suffixes, end + 1):
            weight = sc.office_title_factor
        elif end < lede_end:
            lede_hits[term] = contribs
        slot = body_hits.get(term)
        if slot is None:
            body_hits[term] = [contribs, weight]
        else:
            slot[1] += weight

    found: dict[int, _Evidence] = {}
    for term, (contribs, n) in body_hits.items():
        reps = n if n <= 1.0 else 1.0 + math.log(n)
        for i, w in contribs:
            _add(found, i, term, w * reps, front=False, weight=w)
            if w > 0:
                found[i].hits += n
    for hits, factor in ((title_hits, sc.title_weight), (lede_hits, sc.lede_weight)):
        for term, contribs in hits.items():
            for i, w in contribs:
                _add(found, i, term, w * factor, front=True, weight=w)
                if w > 0 and hits is title_hits:
                    found[i].hits += 1
    return {i: ev for i, ev in found.items() if ev.terms}


def _lede_length(body: str, limit: int) -> int:
    """The first sentence, at most `limit` characters: where a report says what it is about."""
    if limit <= 0:
        return 0
    stop = min(
        (i for i in map(body.find, _SENTENCE_END, [_MIN_LEDE] * len(_SENTENCE_END)) if i >= 0),
        default=-1,
    )
    return limit if stop < 0 else min(stop + 1, limit)


def _add(
    found: dict[int, _Evidence], i: int, term: str, part: float, *, front: bool, weight: float
) -> None:
    ev = found.get(i)
    if ev is None:
        ev = found[i] = _Evidence()
    if front:
        ev.front += part
        ev.prominent = ev.prominent or weight >= _PROMINENT
    else:
        ev.body += part
    if part > 0:
        ev.terms[term] = ev.terms.get(term, 0.0) + part


def _required(tax: Taxonomy, i: int, head: str, body: str) -> bool:
    needs = tax.index.requires[i]
    return not needs or any(r in head or r in body for r in needs)


def _unit(score: float, threshold: float) -> float:
    """0..1 with the threshold at 0.5: comparable across articles and taxonomies."""
    return round(1.0 - math.exp(-score * math.log(2) / threshold), 3)


def _tag(tax: Taxonomy, i: int, score: float, terms: dict[str, float]) -> TopicTag:
    topic = tax.topics[i]
    best = sorted(terms, key=lambda t: -terms[t])[:_MAX_TERMS]
    return TopicTag(slug=topic.slug, name=topic.name, score=score, terms=tuple(best))
