"""The tagging step: regions and topics for one article, from its title and text.

A `Tagger` holds what tagging needs in memory (the gazetteer's automaton, the taxonomy); it
is built once per process and then only read, so tagging itself stays a pure function.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from .gazetteer import Gazetteer, load_gazetteer
from .model import Entry, Tags
from .tag_regions import tag_regions
from .tag_topics import tag_topics
from .taxonomy import Taxonomy, load_taxonomy


@dataclass(frozen=True)
class Tagger:
    gazetteer: Gazetteer
    taxonomy: Taxonomy


def build_tagger(db: sqlite_utils.Database | None, topics_file: str | None = None) -> Tagger:
    """The gazetteer (packaged data plus imported towns in `db`) and the taxonomy."""
    return Tagger(
        gazetteer=load_gazetteer(db),
        taxonomy=load_taxonomy(Path(topics_file) if topics_file else None),
    )


def tag_text(
    tagger: Tagger,
    title: str,
    text: str,
    *,
    home: str | None = None,
    topics: tuple[str, ...] = (),
) -> Tags:
    return Tags(
        regions=tag_regions(title, text, gazetteer=tagger.gazetteer, home=home),
        topics=tag_topics(title, text, taxonomy=tagger.taxonomy, defaults=topics),
    )


def tag_entry(
    tagger: Tagger, entry: Entry, *, home: str | None = None, topics: tuple[str, ...] = ()
) -> Tags:
    """Tags of one entry; the kicker and subtitle count as headline text."""
    title = " ".join(x for x in (entry.kicker, entry.title, entry.subtitle) if x)
    return tag_text(tagger, title, entry.text or entry.summary, home=home, topics=topics)
