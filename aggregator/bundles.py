"""OPML bundles: a whole tree of feeds in one subscription file.

Two bundles answer the two ways people follow local news: everything about one place, split
by topic (all topic feeds of 武进区), and one topic across a territory (安全生产 in every
region of 江苏省). Pure functions from the gazetteer, the taxonomy's names and article
counts to `render.OpmlGroup`s; the server renders them with `render.render_opml`.

By default a bundle lists the feeds that have articles (an empty feed in a reader is noise);
`complete=True` lists every topic, or every city and county of the territory, so a reader
subscribed today also gets the feeds that start publishing later.
"""

from __future__ import annotations

from collections.abc import Mapping

from .gazetteer import Gazetteer
from .render import OpmlGroup

#: Levels listed in a complete topic bundle whatever their counts (townships only with news).
COMPLETE_LEVELS = ("province", "city", "county", "zone")


def _feed(base: str, key: str, title: str) -> tuple[str, str, str]:
    return (title, f"{base}feeds/{key}.atom", f"{base}{key}")


def tree_order(gazetteer: Gazetteer, codes: list[str]) -> list[tuple[str, int]]:
    """(code, depth) for these codes in tree order: each unit right after its parent."""
    paths = []
    for code in codes:
        lineage = gazetteer.lineage(code)
        if lineage:
            paths.append((tuple(d.code for d in reversed(lineage)), code))
    paths.sort()
    return [(code, len(path) - 1) for path, code in paths]


def region_bundle(base: str, code: str, *, gazetteer: Gazetteer, topics: Mapping[str, str],
                  topic_counts: Mapping[str, int], region_counts: Mapping[str, int],
                  complete: bool = False) -> list[OpmlGroup]:
    """All topic feeds of one region (its own feed first), then its sub-regions' feeds."""
    d = gazetteer.get(code)
    name = d.name if d else code
    feeds = [_feed(base, f"region/{code}", f"{name} · 全部")]
    feeds += [_feed(base, f"region/{code}/topic/{slug}", f"{name} · {label}")
              for slug, label in topics.items() if complete or topic_counts.get(slug)]
    groups = [OpmlGroup(f"{name} 各主题", tuple(feeds))]
    below = [c.code for c in gazetteer.children(code) if complete or region_counts.get(c.code)]
    if below:
        groups.append(OpmlGroup(f"{name} 下级地区", tuple(
            _feed(base, f"region/{c}", gazetteer.get(c).name if gazetteer.get(c) else c)
            for c in below)))
    return groups


def topic_bundle(base: str, slug: str, *, label: str, gazetteer: Gazetteer,
                 region_counts: Mapping[str, int], within: str | None = None,
                 complete: bool = False) -> list[OpmlGroup]:
    """One topic in every region of a territory (`within`, else everywhere it has news),
    in tree order, with the topic's feed for the territory first."""
    codes = {c for c, n in region_counts.items() if n}
    if within is not None:
        codes = {c for c in codes if any(d.code == within for d in gazetteer.lineage(c))}
        codes.add(within)
        if complete:
            codes.update(_descendants(gazetteer, within))
    ordered = tree_order(gazetteer, sorted(codes))
    feeds = []
    if within is None:
        feeds.append(_feed(base, f"topic/{slug}", f"{label} · 全部地区"))
    for code, _depth in ordered:
        d = gazetteer.get(code)
        feeds.append(_feed(base, f"region/{code}/topic/{slug}", f"{d.name if d else code} · {label}"))
    where = gazetteer.get(within).name if within and gazetteer.get(within) else "各地"
    return [OpmlGroup(f"{label} · {where}", tuple(feeds))]


def _descendants(gazetteer: Gazetteer, code: str) -> list[str]:
    out: list[str] = []
    stack = [code]
    while stack and len(out) < 5000:
        for child in gazetteer.children(stack.pop()):
            if child.level in COMPLETE_LEVELS:
                out.append(child.code)
                stack.append(child.code)
    return out
