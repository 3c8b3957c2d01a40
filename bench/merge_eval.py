"""Evaluate the merger on labelled variants of real articles, through the real storage path.

Reads ../shared/corpus-dev (220 real articles, 8 labelled cross-outlet groups) at run time and
makes labelled variants of each article by transformations written here: reposts, light edits,
traditional-character copies, abridged reprints, heavy edits (all the same story) and templated
look-alikes (every number changed: a different report that must not merge). Nothing of the
corpus is copied into the repository. Each kind runs in its own SQLite database, the originals
plus one variant per original, inserted in shuffled order so that earlier copies often arrive
later; then everything runs together once. Reports pairwise and B-cubed precision, recall and
F1, recall by kind, and what becomes of the real groups (merged, linked or missed).

    .venv/bin/python bench/merge_eval.py [--shared ../shared] [--seed 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import opencc

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aggregator import store, store_stories  # noqa: E402
from aggregator.merge import SHORT  # noqa: E402
from aggregator.model import Entry  # noqa: E402
from aggregator.normalise import normalise  # noqa: E402

SHARED = ROOT.parent / "shared"
SAME_STORY_KINDS = ("repost", "light", "traditional", "abridged", "heavy")
KINDS = (*SAME_STORY_KINDS, "templated")

# -- self-written material for the transformations --------------------------------------------

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞宇浩然晨曦子涵欣怡思远志文建国"
CITIES = (
    "北京",
    "上海",
    "南京",
    "杭州",
    "合肥",
    "郑州",
    "武汉",
    "广州",
    "成都",
    "西安",
    "常州",
    "苏州",
)
FILLER = (
    "记者从有关部门了解到，相关工作正在有序推进，后续情况将及时向社会公布。",
    "据介绍，这项工作已纳入年度重点任务清单，有关部门将加强督促检查。",
    "业内人士认为，这一举措有助于稳定市场预期，进一步增强发展信心。",
    "当地群众表示，希望相关措施尽快落地见效，切实解决急难愁盼问题。",
    "有关负责人表示，下一步将加强统筹协调，确保各项任务落到实处。",
    "专家指出，应当坚持问题导向，因地制宜推动政策措施落细落实。",
    "此前，相关部门已就此事开展专项调研，广泛听取各方意见建议。",
    "目前，现场秩序良好，各项保障工作正在紧张有序地进行之中。",
)
REWORDS = (
    ("今天", "今日"),
    ("表示", "称"),
    ("进行", "开展"),
    ("目前", "当前"),
    ("已经", "已"),
    ("进一步", "更加"),
    ("加强", "强化"),
    ("推动", "推进"),
    ("指出", "认为"),
    ("正在", "正"),
    ("我国", "中国"),
    ("同比", "比去年同期"),
    ("记者", "本台记者"),
    ("强调", "提出"),
    ("發展", "發展壯大"),
    ("發言人", "新聞發言人"),
    ("表示", "說"),
    ("國家", "我國"),
)
HEADLINE_TAGS = ("【关注】", "【聚焦】", "快讯：", "独家｜", "（组图）", "最新！")


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _byline(rng: random.Random) -> str:
    city = rng.choice(CITIES)
    m, d = rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice(
        (
            f"本报讯（记者 {_name(rng)} 通讯员 {_name(rng)}）",
            f"新华社{city}{m}月{d}日电（记者{_name(rng)}、{_name(rng)}）",
            f"央广网{city}{m}月{d}日消息（记者 {_name(rng)}）：",
            "(澳門電台消息) ",
            f"中新网{city}{m}月{d}日电 ",
            f"本报{city}{m}月{d}日电  （记者{_name(rng)}）",
        )
    )


def _signature(rng: random.Random) -> str:
    return rng.choice(
        (
            f"（{_name(rng)}  {_name(rng)}）",
            f"(編輯：{_name(rng)})",
            f"\n\n责任编辑：{_name(rng)}",
            f"\n\n·{_name(rng)}·",
            "（完）",
            f"(記者 {_name(rng)} {_name(rng)})",
        )
    )


# -- pieces of text -------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[。！？!?；;])")
_LEAD_FURNITURE = re.compile(r"^\s*(?:央视网消息（新闻联播）：|\(澳門電台消息\)\s*)")
_TAIL_NAMES = re.compile(r"(?<=[。”」])\s*[(（][\u4e00-\u9fff\s]{2,16}[)）]\s*$")


def paragraphs(body: str) -> list[str]:
    return [p.strip() for p in body.split("\n") if p.strip()]


def sentences(par: str) -> list[str]:
    return [s for s in _SENTENCE.split(par) if s.strip()]


def _bare(body: str) -> list[str]:
    """Paragraphs without the outlet's own lead-in and closing names, to put others in."""
    pars = paragraphs(body)
    if pars:
        pars[0] = _LEAD_FURNITURE.sub("", pars[0])
        pars[-1] = _TAIL_NAMES.sub("", pars[-1])
    return [p for p in pars if p]


def _join(pars: Sequence[str]) -> str:
    return "\n\n".join(pars)


def _new_headline(title: str, body: str, rng: random.Random) -> str:
    first = sentences(paragraphs(body)[0])[0] if body.strip() else title
    choice = rng.random()
    if choice < 0.4:
        return re.sub(r"[，。：；,.:;]", "", first)[: rng.randint(12, 22)]
    if choice < 0.7:
        return rng.choice(HEADLINE_TAGS) + title
    return title[::-1][: max(6, len(title) // 2)][::-1] + "：" + first[:8]


_HALF = str.maketrans(
    {"，": ",", "。": ".", "：": ":", "；": ";", "（": "(", "）": ")", "“": '"', "”": '"'}
)
_FULL = str.maketrans({",": "，", ":": "：", ";": "；", "(": "（", ")": "）"})
_CONVERTERS: dict[str, opencc.OpenCC] = {}


def convert(text: str, config: str) -> str:
    if config not in _CONVERTERS:
        _CONVERTERS[config] = opencc.OpenCC(config)
    return _CONVERTERS[config].convert(text)


def is_traditional(text: str) -> bool:
    return (
        convert(text, "t2s") != text
        and sum(a != b for a, b in zip(text, convert(text, "t2s"), strict=True)) > len(text) / 50
    )


# -- the transformations --------------------------------------------------------------------


def repost(title: str, body: str, rng: random.Random) -> tuple[str, str]:
    """The same text under another outlet's byline; headline kept or tagged."""
    head = title if rng.random() < 0.5 else rng.choice(HEADLINE_TAGS) + title
    return head, _byline(rng) + _join(_bare(body))


def light_edit(title: str, body: str, rng: random.Random) -> tuple[str, str]:
    """New headline, other byline or signature, plus two of: a paragraph added or dropped,
    page-break markers, the other punctuation width."""
    pars = _bare(body)
    edits = rng.sample(("add", "drop", "page", "width"), 2)
    if "drop" in edits and len(pars) >= 3:
        del pars[rng.randrange(1, len(pars))]
    if "add" in edits:
        pars.insert(rng.randint(1, len(pars)), rng.choice(FILLER))
    if "page" in edits and len(pars) >= 2:
        k = rng.randrange(1, len(pars))
        pars[k - 1] += f"（下转第{rng.randint(2, 8)}版）"
        pars[k] = "（上接第1版）" + pars[k]
    text = _byline(rng) + _join(pars) + _signature(rng)
    if "width" in edits:
        text = text.translate(_HALF if "，" in text else _FULL)
    return _new_headline(title, body, rng), text


def traditional_copy(title: str, body: str, rng: random.Random) -> tuple[str, str]:
    """The same story in the other script (simplified↔traditional), under another byline."""
    trad = is_traditional(body)
    config = "t2s" if trad else rng.choice(("s2t", "s2hk", "s2tw"))
    text = convert(_join(_bare(body)), config)
    return convert(title, config), convert(_byline(rng), config) + text + _signature(rng)


def abridged(title: str, body: str, rng: random.Random) -> tuple[str, str]:
    """A reprint keeping 60–80% of the paragraphs (at least 3 of them: see `eligible`)."""
    units = pars = _bare(body)
    keep = max(1, round(len(units) * rng.uniform(0.6, 0.8)))
    chosen = [0, *sorted(rng.sample(range(1, len(units)), keep - 1))] if keep > 1 else [0]
    text = _join([pars[i] for i in chosen])
    head = title if rng.random() < 0.5 else _new_headline(title, body, rng)
    return head, _byline(rng) + text + _signature(rng)


def heavy_edit(title: str, body: str, rng: random.Random) -> tuple[str, str]:
    """A rewrite: new headline and byline, about a third of the sentences dropped, words
    swapped in many of the rest, a sentence of context added, sometimes the other script."""
    out = []
    for par in _bare(body):
        kept = []
        for s in sentences(par):
            if rng.random() < 0.3 and kept:
                continue
            if rng.random() < 0.5:
                for a, b in rng.sample(REWORDS, 4):
                    if a in s:
                        s = s.replace(a, b, 1)
                        break
            kept.append(s)
        if kept:
            out.append("".join(kept))
    if not out:
        out = _bare(body)
    out.insert(rng.randint(1, len(out)), rng.choice(FILLER))
    text = _join(out)
    head = _new_headline(title, body, rng)
    if rng.random() < 0.5:
        config = "t2s" if is_traditional(text) else "s2hk"
        text, head = convert(text, config), convert(head, config)
    return head, _byline(rng) + text


def _change_number(m: re.Match[str], rng: random.Random) -> str:
    digits = m.group()
    value = int(digits) + rng.randint(1, 9) * (1 if rng.random() < 0.7 else -1)
    value = abs(value) if abs(value) != int(digits) else int(digits) + 1
    return str(value)


def templated(title: str, body: str, rng: random.Random) -> tuple[str, str]:
    """Another edition of the same template: every number changed, every word kept."""
    change = lambda text: re.sub(r"\d+", lambda m: _change_number(m, rng), text)  # noqa: E731
    return change(title), change(body)


TRANSFORMS: dict[str, Callable[[str, str, random.Random], tuple[str, str]]] = {
    "repost": repost,
    "light": light_edit,
    "traditional": traditional_copy,
    "abridged": abridged,
    "heavy": heavy_edit,
    "templated": templated,
}


# -- items, runs and scores -----------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    key: str
    outlet: str
    title: str
    body: str
    published: datetime
    truth: str  # ground-truth cluster
    kind: str  # original | one of KINDS
    origin: str  # key of the original it was made from (itself for originals)


def load_corpus(shared: Path = SHARED) -> tuple[list[dict], list[dict]]:
    """The real articles and labelled groups; raises FileNotFoundError when absent."""
    base = shared / "corpus-dev"
    with open(base / "articles.jsonl", encoding="utf-8") as fh:
        articles = [json.loads(line) for line in fh if line.strip()]
    groups = json.loads((base / "dup_groups.json").read_text(encoding="utf-8"))
    return articles, groups


def originals(articles: Iterable[dict], groups: Iterable[dict] = ()) -> list[Item]:
    """Corpus records as items; members of a verbatim group share one truth cluster."""
    truth = {}
    for g in groups:
        if g.get("kind") == "verbatim_or_near_verbatim_copy":
            for aid in g["article_ids"]:
                truth[aid] = "g:" + g["group_id"]
    out = []
    for a in articles:
        published = store_stories.parse_time(a.get("published")) or datetime(2024, 1, 1, tzinfo=UTC)
        if len(a.get("published") or "") == 10:
            published = published.replace(hour=12)
        out.append(
            Item(
                a["id"],
                a["outlet"],
                a.get("title") or "",
                a["body"] or "",
                published,
                truth.get(a["id"], a["id"]),
                "original",
                a["id"],
            )
        )
    return out


def eligible(item: Item, kind: str) -> bool:
    """Whether a variant of this kind can be made: templates need numbers; keeping 60–80% of
    the paragraphs needs at least three (of two, one would be half)."""
    pars = _bare(item.body)
    if not pars:
        return False
    if kind == "templated":
        return bool(re.search(r"\d", item.body))
    if kind == "abridged":
        return len(set(pars)) >= 3
    return True


def make_variants(items: Sequence[Item], kind: str, seed: int = 7) -> list[Item]:
    """One variant of `kind` per original (templated only where the text has numbers)."""
    out = []
    for item in items:
        rng = random.Random(f"{seed}:{kind}:{item.key}")
        if not eligible(item, kind):
            continue
        title, body = TRANSFORMS[kind](item.title, item.body, rng)
        shift = timedelta(minutes=rng.randint(-24 * 60, 36 * 60))
        truth = item.truth if kind in SAME_STORY_KINDS else f"{item.key}~{kind}"
        out.append(
            Item(
                f"{item.key}~{kind}",
                f"{kind}-outlet-{rng.randint(1, 5)}",
                title,
                body,
                item.published + shift,
                truth,
                kind,
                item.key,
            )
        )
    return out


def open_eval_db(path: Path):
    """A database with the product's schema (all migrations) at `path`."""
    return store.open_db(path)


def insert_articles(db, items: Sequence[Item]) -> dict[str, int]:
    """Store items through the product's own storage (sources, then articles); returns
    item key -> article id. Outlets get priorities 0..2 so canonical ties are exercised."""
    ids = {}
    with store.transaction(db):
        for outlet in sorted({i.outlet for i in items}):
            store.ensure_outlet_source(db, outlet, outlet)
            priority = int(hashlib.md5(outlet.encode()).hexdigest(), 16) % 3
            store.update_source(db, outlet, priority=priority)
        for n, item in enumerate(items):
            entry = Entry(
                key=item.key,
                title=item.title,
                url=f"http://{item.outlet}.example.cn/{n}",
                published=item.published,
                text=item.body,
            )
            saved = store.save_entry(
                db,
                item.outlet,
                entry,
                outlet=item.outlet,
                outlet_name=item.outlet,
                now=item.published,
            )
            ids[item.key] = saved.article_id
    return ids


@dataclass
class Run:
    items: list[Item]
    story: dict[str, str]  # item key -> live story id
    links: set[frozenset[str]]  # related story pairs
    seconds: float

    def story_of(self, key: str) -> str:
        return self.story[key]


def run_merger(items: Sequence[Item], workdir: Path, seed: int = 7, name: str = "run") -> Run:
    """Insert the items and merge them one by one in shuffled arrival order."""
    path = workdir / f"{name}.db"
    if path.exists():
        path.unlink()
    db = open_eval_db(path)
    try:
        order = list(items)
        random.Random(f"order:{seed}:{name}").shuffle(order)
        ids = insert_articles(db, order)
        started = time.perf_counter()
        with store.transaction(db):
            for item in order:
                store_stories.index_and_merge(db, ids[item.key])
        seconds = time.perf_counter() - started
        story = {}
        for item in order:
            sid = store_stories.story_of(db, ids[item.key])
            story[item.key] = store_stories.resolve_story(db, sid)
        links = {frozenset(r) for r in db.conn.execute("SELECT story_a, story_b FROM story_links")}
    finally:
        db.conn.close()
    return Run(list(items), story, links, seconds)


def _pairs(groups: dict[str, list[str]]) -> set[frozenset[str]]:
    return {frozenset(p) for members in groups.values() for p in itertools.combinations(members, 2)}


def scores(run: Run) -> dict[str, float]:
    """Pairwise and B-cubed precision, recall and F1 of the run against the truth clusters."""
    truth: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    for item in run.items:
        truth[item.truth].append(item.key)
        pred[run.story[item.key]].append(item.key)
    tp_pairs, pp = _pairs(truth), _pairs(pred)
    hit = len(tp_pairs & pp)
    p = hit / len(pp) if pp else 1.0
    r = hit / len(tp_pairs) if tp_pairs else 1.0
    # The same, counting only pairs with a generated variant in them: real-corpus pairs are
    # judged by their own labels in `real_groups`.
    # A copy follows its original: when two real originals were merged (judged by their own
    # labels), their copies being together is that decision again, not a new error.
    made = {i.key: i for i in run.items if i.kind != "original"}
    origin = {i.key: i.origin for i in run.items}
    kinds = {i.key: i.kind for i in run.items}

    def implied(pair: frozenset[str]) -> bool:
        a, b = tuple(pair)
        return (
            kinds[a] not in ("templated",)
            and kinds[b] not in ("templated",)
            and run.story[origin[a]] == run.story[origin[b]]
        )

    vt = {q for q in tp_pairs if q & made.keys()}
    vp = {q for q in pp if q & made.keys() and (q in tp_pairs or not implied(q))}
    vp_hit = len(vt & vp)
    truth_of = {i.key: i.truth for i in run.items}
    bp = br = 0.0
    for item in run.items:
        mine = pred[run.story[item.key]]
        same = sum(1 for k in mine if truth_of[k] == item.truth)
        bp += same / len(mine)
        br += same / len(truth[item.truth])
    n = len(run.items)
    bp, br = bp / n, br / n
    f = lambda a, b: 2 * a * b / (a + b) if a + b else 0.0  # noqa: E731
    return {
        "pairwise_precision": p,
        "pairwise_recall": r,
        "pairwise_f1": f(p, r),
        "variant_precision": vp_hit / len(vp) if vp else 1.0,
        "variant_recall": vp_hit / len(vt) if vt else 1.0,
        "bcubed_precision": bp,
        "bcubed_recall": br,
        "bcubed_f1": f(bp, br),
        "true_pairs": len(tp_pairs),
        "merged_pairs": len(pp),
        "correct_pairs": hit,
    }


def recall_by_kind(run: Run) -> dict[str, dict[str, float]]:
    """Per kind of variant: how many joined their original's story (templated: how many did)."""
    out: dict[str, dict[str, float]] = {}
    by_kind: dict[str, list[Item]] = defaultdict(list)
    for item in run.items:
        if item.kind != "original":
            by_kind[item.kind].append(item)
    originals = {i.key: i for i in run.items if i.kind == "original"}
    for kind, variants in by_kind.items():
        joined = [v for v in variants if run.story[v.key] == run.story[v.origin]]
        short = [v for v in variants if len(normalise(originals[v.origin].body)) < SHORT]
        short_joined = [v for v in short if v in joined]
        out[kind] = {
            "variants": len(variants),
            "with_original": len(joined),
            "share": len(joined) / len(variants) if variants else 0.0,
            "short_variants": len(short),
            "short_share": len(short_joined) / len(short) if short else 0.0,
        }
    return out


def real_groups(run: Run, groups: Sequence[dict]) -> list[dict]:
    """For each labelled group: its pairs merged, linked as related, or neither."""
    present = {i.key for i in run.items}
    out = []
    for g in groups:
        ids = [a for a in g["article_ids"] if a in present]
        merged = linked = 0
        pairs = list(itertools.combinations(ids, 2))
        for a, b in pairs:
            sa, sb = run.story[a], run.story[b]
            if sa == sb:
                merged += 1
            elif frozenset((sa, sb)) in run.links:
                linked += 1
        out.append(
            {
                "group": g["group_id"],
                "kind": g["kind"],
                "pairs": len(pairs),
                "merged": merged,
                "linked": linked,
            }
        )
    return out


def unlabelled_merges(run: Run) -> list[tuple[str, str]]:
    """Pairs of different truth clusters that ended in one story (false merges to inspect)."""
    pred: dict[str, list[Item]] = defaultdict(list)
    for item in run.items:
        pred[run.story[item.key]].append(item)
    out = []
    for members in pred.values():
        for a, b in itertools.combinations(members, 2):
            if a.truth != b.truth:
                out.append((a.key, b.key))
    return out


def evaluate(
    shared: Path = SHARED, seed: int = 7, kinds: Sequence[str] = KINDS, workdir: Path | None = None
) -> dict:
    articles, groups = load_corpus(shared)
    base = originals(articles, groups)
    report: dict = {"seed": seed, "originals": len(base), "kinds": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = workdir or Path(tmp)
        for kind in kinds:
            run = run_merger(base + make_variants(base, kind, seed), work, seed, kind)
            report["kinds"][kind] = {
                **scores(run),
                **recall_by_kind(run).get(kind, {}),
                "false_merges": unlabelled_merges(run)[:20],
                "ms_per_article": 1000 * run.seconds / len(run.items),
            }
        everything = list(base)
        for kind in kinds:
            everything += make_variants(base, kind, seed)
        run = run_merger(everything, work, seed, "all")
        report["all"] = {
            **scores(run),
            "by_kind": recall_by_kind(run),
            "ms_per_article": 1000 * run.seconds / len(run.items),
            "false_merges": unlabelled_merges(run)[:40],
        }
        plain = run_merger(base, work, seed, "real")
        report["real_groups"] = real_groups(plain, groups)
        report["real_false_merges"] = unlabelled_merges(plain)
    return report


def _print(report: dict) -> None:
    print(f"originals: {report['originals']}  seed: {report['seed']}")
    head = f"{'kind':<12}{'variants':>9}{'joined':>8}{'recall':>8}{'var P':>7}{'var R':>7}"
    head += f"{'pair P':>8}{'pair R':>8}"
    print(head + f"{'B3 P':>8}{'B3 R':>8}{'B3 F1':>8}{'ms/art':>8}")
    for kind, r in report["kinds"].items():
        print(
            f"{kind:<12}{r.get('variants', 0):>9}{r.get('with_original', 0):>8}"
            f"{r.get('share', 0):>8.3f}{r['variant_precision']:>7.3f}{r['variant_recall']:>7.3f}"
            f"{r['pairwise_precision']:>8.3f}{r['pairwise_recall']:>8.3f}"
            f"{r['bcubed_precision']:>8.3f}{r['bcubed_recall']:>8.3f}{r['bcubed_f1']:>8.3f}"
            f"{r['ms_per_article']:>8.2f}"
        )
    a = report["all"]
    print(
        f"{'all kinds':<12}{'':>25}{a['variant_precision']:>7.3f}{a['variant_recall']:>7.3f}"
        f"{a['pairwise_precision']:>8.3f}{a['pairwise_recall']:>8.3f}"
        f"{a['bcubed_precision']:>8.3f}{a['bcubed_recall']:>8.3f}{a['bcubed_f1']:>8.3f}"
        f"{a['ms_per_article']:>8.2f}"
    )
    print(
        "  together, recall by kind: "
        + ", ".join(f"{k} {v['share']:.3f}" for k, v in a["by_kind"].items())
    )
    print("real labelled groups (pairs merged / linked as related / total):")
    for g in report["real_groups"]:
        print(f"  {g['group']:<36}{g['kind']:<36}{g['merged']}/{g['linked']}/{g['pairs']}")
    if report["real_false_merges"]:
        print("real articles merged outside any labelled group:", report["real_false_merges"])
    print(
        "recall on short originals (under 200 normalised characters): "
        + ", ".join(
            f"{k} {r['short_share']:.3f} of {r['short_variants']}"
            for k, r in report["kinds"].items()
            if k != "templated"
        )
    )
    for kind, r in report["kinds"].items():
        if r["false_merges"]:
            print(f"false merges in {kind}:", r["false_merges"][:8])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--kind", action="append", choices=KINDS)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    report = evaluate(args.shared, args.seed, args.kind or KINDS)
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
