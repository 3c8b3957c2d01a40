"""merge: the pure decider, and the merger's targets on labelled variants of real text.

The first part feeds `merge.plan` self-written texts. The second makes labelled variants
(bench/merge_eval.py) of a small self-written set, which always runs, and of the real
development corpus in ../shared, which is skipped when absent, and checks the targets:
reposts, light edits, traditional copies and abridged reprints at precision >= 0.99 and
recall >= 0.97; heavy edits at recall >= 0.7; templated look-alikes never merged.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import opencc
import pytest

from aggregator import fingerprint, merge
from aggregator.merge import ArticleView, CandidateView
from aggregator.normalise import normalise_title, prepare

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "merge" / "articles.json"
T0 = datetime(2024, 10, 19, 8, 0, tzinfo=UTC)


def load_eval():
    spec = importlib.util.spec_from_file_location("merge_eval", ROOT / "bench" / "merge_eval.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["merge_eval"] = module
    spec.loader.exec_module(module)
    return module


def own_articles() -> list[dict]:
    return json.loads(FIXTURES.read_text(encoding="utf-8"))["articles"]


def body(article_id: str) -> str:
    return next(a for a in own_articles() if a["id"] == article_id)["body"]


def view(aid: int, text: str, title: str = "", hours: float = 0, priority: int = 0):
    prepared = prepare(text)
    short = len(prepared.text) < 2 * merge.SHORT
    return ArticleView(
        id=aid,
        signature=fingerprint.signature(prepared.text, prepared.numbers),
        title=normalise_title(title),
        published=T0 + timedelta(hours=hours),
        priority=priority,
        text=prepared.text if short else "",
        sentences=prepared.sentences if short else (),
    )


def story(sid: str, seq: int, canonical: ArticleView, *members: ArticleView) -> CandidateView:
    return CandidateView(sid, seq, canonical, tuple(members))


# -- the decider on self-written texts ------------------------------------------------------


def test_no_candidates_means_a_new_story_anchored_on_the_article() -> None:
    plan = merge.plan(view(1, body("own-bridge")), [])
    assert plan.new_story and plan.becomes_canonical and not plan.related


def test_a_repost_under_another_byline_joins_by_exact_text() -> None:
    original = view(1, body("own-bridge"))
    repost = view(2, "新华社常州10月19日电（记者 王小川）" + body("own-bridge") + "（完）", hours=3)
    plan = merge.plan(repost, [story("sA", 1, original)])
    assert plan.join is not None and plan.join.story_id == "sA"
    assert plan.join.method == "exact" and plan.join.similarity == 1.0
    assert not plan.becomes_canonical


def test_a_traditional_copy_joins_and_the_evidence_says_why() -> None:
    original = view(1, body("own-orchard"))
    copy = view(2, opencc.OpenCC("s2hk").convert(body("own-orchard")), hours=1)
    plan = merge.plan(copy, [story("sA", 1, original)])
    assert plan.join is not None and plan.join.method in ("exact", "minhash")
    evidence = plan.join.evidence.as_dict()
    assert evidence["against"] == 1 and evidence["jaccard"] >= 0.9
    json.dumps(evidence)  # stored as JSON


def test_an_abridged_reprint_joins_by_containment() -> None:
    pars = body("own-bridge").split("\n\n")
    abridged = view(2, "\n\n".join([pars[0], pars[2], pars[4]]), hours=5)
    plan = merge.plan(abridged, [story("sA", 1, view(1, body("own-bridge")))])
    assert plan.join is not None and plan.join.method == "containment"
    assert plan.join.evidence.jaccard < merge.J_SAME


def test_a_templated_report_of_another_day_does_not_join() -> None:
    today = body("own-daily-report")
    tomorrow = (
        today.replace("23日", "24日")
        .replace("312", "287")
        .replace("47", "52")
        .replace("4215", "4502")
        .replace("603", "655")
    )
    plan = merge.plan(view(2, tomorrow, hours=24), [story("sA", 1, view(1, today))])
    assert plan.new_story
    assert not plan.related  # another edition of a template is not "related coverage"


def test_a_member_with_numbers_vetoes_a_canonical_without_them() -> None:
    text = body("own-library") + "\n\n截至{d}日，书屋累计接待读者{n}人次，借出图书{m}册。"
    day23 = text.format(d="10月23", n=1250, m=3400)
    day24 = text.format(d="10月24", n=1302, m=3517)
    # A reprint that dropped the figures cannot tell the two days apart; its story's member
    # that kept them can.
    numberless = view(1, text.format(d="近", n="上千", m="数千"), hours=-2)
    candidate = story("sA", 1, numberless, view(3, day23))
    new = view(2, day24, hours=20)
    assert merge.same_story(merge.compare(new, numberless)) is not None
    assert merge.compare(new, view(3, day23)).templated
    assert merge.plan(new, [candidate]).new_story


def test_two_different_short_briefs_do_not_merge() -> None:
    plan = merge.plan(
        view(2, body("own-brief-road")), [story("sA", 1, view(1, body("own-brief-fire")))]
    )
    assert plan.new_story and not plan.related


def test_a_short_brief_with_the_same_headline_and_text_joins() -> None:
    fire = body("own-brief-fire")
    retold = fire.replace("今日凌晨", "今天凌晨").replace("多辆", "数辆")
    title = "东湖工业园一仓库起火 无人员伤亡"
    plan = merge.plan(view(2, retold, title=title), [story("sA", 1, view(1, fire, title=title))])
    assert plan.join is not None and plan.join.method in ("title", "minhash")


def test_a_tiny_item_merges_only_on_the_same_text_and_headline() -> None:
    a = view(1, "图片新闻", title="秋色")
    assert merge.plan(view(2, "图片新闻", title="秋色"), [story("sA", 1, a)]).join is not None
    assert merge.plan(view(2, "图片新闻", title="晨雾"), [story("sA", 1, a)]).new_story


def test_another_write_up_of_the_same_event_is_linked_not_merged() -> None:
    first = view(
        1,
        "东湖工业园区一间仓库今日凌晨起火，消防部门调派多辆消防车赶到现场扑救，"
        "火势约一小时后被扑灭，事故没有造成人员伤亡。据了解，起火仓库主要存放纸箱等包装材料。",
        title="东湖工业园仓库凌晨起火",
    )
    second = view(
        2,
        "东湖工业园区一间仓库今日凌晨起火，消防部门接报后赶到现场扑救，火势约一小时后被扑灭，"
        "没有造成人员伤亡。园区管委会表示，仓库内存放的纸箱等包装材料大部分被烧毁，"
        "具体损失正在统计，园区已组织各企业开展消防安全检查。",
        title="东湖工业园一仓库凌晨失火 损失正在统计",
        hours=3,
    )
    plan = merge.plan(second, [story("sA", 1, first)])
    assert plan.new_story
    assert [link.story_id for link in plan.related] == ["sA"]
    assert 0 < plan.related[0].score < 1


def test_canonical_is_earliest_then_priority_then_longest() -> None:
    early = view(1, body("own-market"), hours=0)
    late_long = view(2, body("own-market") + "\n\n市场还开设了便民服务点。", hours=2)
    assert merge.choose_canonical([late_long, early]) is early
    same_time_high = view(3, body("own-market"), priority=5)
    assert merge.choose_canonical([early, same_time_high]) is same_time_high
    longer = view(4, body("own-market") + "\n\n市场还开设了便民服务点。")
    assert merge.choose_canonical([early, longer]) is longer
    undated = replace(view(5, body("own-market")), published=None)
    assert merge.choose_canonical([undated, late_long]) is late_long


def test_an_earlier_copy_becomes_canonical_and_unites_the_stories_it_matches() -> None:
    pars = body("own-bridge").split("\n\n")
    part_a = view(1, "\n\n".join(pars[:4]), hours=2)
    part_b = view(2, "\n\n".join(pars[2:]), hours=3)
    full = view(3, body("own-bridge"), hours=0)
    plan = merge.plan(full, [story("sA", 1, part_a), story("sB", 2, part_b)])
    assert plan.join is not None and plan.becomes_canonical
    assert {plan.join.story_id, *(m.story_id for m in plan.absorb)} == {"sA", "sB"}


def test_a_later_copy_links_stories_it_matches_but_cannot_unite() -> None:
    pars = body("own-bridge").split("\n\n")
    part_a = view(1, "\n\n".join(pars[:4]), hours=0)
    part_b = view(2, "\n\n".join(pars[2:]), hours=1)
    full = view(3, body("own-bridge"), hours=5)
    plan = merge.plan(full, [story("sA", 1, part_a), story("sB", 2, part_b)])
    assert plan.join is not None and not plan.absorb and not plan.becomes_canonical
    assert [link.method for link in plan.related] == ["bridge"]


# -- targets on labelled variants -------------------------------------------------------------

SAME = ("repost", "light", "traditional", "abridged")


def test_variants_of_self_written_articles(tmp_path: Path) -> None:
    me = load_eval()
    base = me.originals(own_articles())
    items = list(base)
    for kind in me.KINDS:
        items += me.make_variants(base, kind, seed=11)
    run = me.run_merger(items, tmp_path, seed=11, name="own")
    by_kind = me.recall_by_kind(run)
    for kind in (*SAME, "heavy"):
        assert by_kind[kind]["share"] == 1.0, kind
    assert by_kind["templated"]["with_original"] == 0
    assert me.scores(run)["variant_precision"] == 1.0


@pytest.fixture(scope="module")
def corpus_report(tmp_path_factory):
    if not (SHARED / "corpus-dev" / "articles.jsonl").exists():
        pytest.skip("../shared/corpus-dev is not present")
    me = load_eval()
    return me.evaluate(SHARED, seed=7, workdir=tmp_path_factory.mktemp("eval"))


@pytest.mark.parametrize("kind", SAME)
def test_corpus_variants_meet_the_same_story_targets(corpus_report, kind: str) -> None:
    r = corpus_report["kinds"][kind]
    assert r["share"] >= 0.97, r
    assert r["variant_precision"] >= 0.99, r


def test_corpus_heavy_edits_meet_their_target(corpus_report) -> None:
    r = corpus_report["kinds"]["heavy"]
    assert r["share"] >= 0.7 and r["variant_precision"] >= 0.99, r


def test_corpus_templated_look_alikes_never_join_their_original(corpus_report) -> None:
    r = corpus_report["kinds"]["templated"]
    assert r["variants"] > 100 and r["with_original"] == 0, r
    assert corpus_report["all"]["by_kind"]["templated"]["with_original"] == 0


def test_corpus_labelled_copies_merge_and_write_ups_stay_apart(corpus_report) -> None:
    groups = {g["group"]: g for g in corpus_report["real_groups"]}
    verbatim = [g for g in groups.values() if g["kind"].startswith("verbatim")]
    merged = sum(g["merged"] for g in verbatim)
    assert merged >= 0.7 * sum(g["pairs"] for g in verbatim)
    independent = [g for g in groups.values() if g["kind"].startswith("same_event")]
    assert sum(g["merged"] for g in independent) <= 1
    assert sum(g["linked"] for g in independent) >= 2
