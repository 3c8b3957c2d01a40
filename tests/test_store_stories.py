"""store_stories: stories in a real SQLite file, through the product's own storage layer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import opencc
import pytest

from aggregator import store, store_stories
from aggregator.errors import StorageError
from aggregator.model import Entry

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "merge" / "articles.json"
T0 = datetime(2024, 10, 19, 1, 30, tzinfo=UTC)


def own(article_id: str) -> str:
    articles = json.loads(FIXTURES.read_text(encoding="utf-8"))["articles"]
    return next(a for a in articles if a["id"] == article_id)["body"]


@pytest.fixture
def db(tmp_path: Path):
    handle = store.open_db(tmp_path / "news.db")
    yield handle
    handle.conn.close()


def add(
    db,
    source: str,
    key: str,
    text: str,
    *,
    hours: float = 0,
    title: str = "标题",
    priority: int = 0,
    fetched_hours: float | None = None,
    printed: bool = False,
) -> int:
    """Store one article (as the pipeline does) and merge it; returns its id. With `printed`,
    the merger gets the article's print computed ahead, as an import's workers compute it."""
    with store.transaction(db):
        store.ensure_outlet_source(db, source, source)
        store.update_source(db, source, priority=priority)
        published = T0 + timedelta(hours=hours)
        now = T0 + timedelta(hours=hours if fetched_hours is None else fetched_hours)
        saved = store.save_entry(
            db,
            source,
            Entry(key=key, title=title, text=text, published=published),
            outlet=source,
            outlet_name=source,
            now=now,
        )
        if printed:
            ahead = store_stories.article_print(title, text)
            store_stories.index_and_merge(db, saved.article_id, ahead, new=saved.created)
        else:
            store_stories.index_and_merge(db, saved.article_id)
    return saved.article_id


def story(db, article_id: int) -> dict:
    sid = store_stories.story_of(db, article_id)
    return next(db.query("SELECT * FROM stories WHERE id = ?", [sid]))


def test_a_first_article_founds_a_story(db) -> None:
    aid = add(db, "own_daily", "a1", own("own-bridge"), title="老石桥完成加固")
    row = story(db, aid)
    assert row["id"].startswith("s") and len(row["id"]) == 14
    assert row["canonical_article"] == aid and row["members"] == 1
    assert row["merged_into"] is None and row["title"] == "老石桥完成加固"
    member = next(db.query("SELECT * FROM story_articles WHERE article_id = ?", [aid]))
    assert member["method"] == "new"
    assert db.execute("SELECT COUNT(*) FROM lsh_bands").fetchone()[0] == 32


def test_copies_from_other_outlets_join_and_say_why(db) -> None:
    first = add(db, "own_daily", "a1", own("own-bridge"))
    repost = add(
        db, "wire", "w1", "新华社常州10月19日电（记者 王小川）" + own("own-bridge"), hours=2
    )
    trad = add(db, "hk_radio", "h1", opencc.OpenCC("s2hk").convert(own("own-bridge")), hours=3)
    sid = store_stories.story_of(db, first)
    assert store_stories.story_of(db, repost) == sid == store_stories.story_of(db, trad)
    rows = list(
        db.query(
            "SELECT method, json_extract(evidence, '$.against') AS against,"
            " json_extract(evidence, '$.jaccard') AS j FROM story_articles WHERE article_id IN (?, ?)"
            " ORDER BY article_id",
            [repost, trad],
        )
    )
    assert rows[0]["method"] == "exact" and rows[0]["against"] == first
    assert rows[1]["method"] in ("exact", "minhash") and rows[1]["j"] >= 0.9
    view = next(db.query("SELECT * FROM v_stories WHERE story_id = ?", [sid]))
    assert view["members"] == 3 and view["outlets"] == 3 and view["canonical_article"] == first
    assert len(list(db.query("SELECT * FROM v_story_articles WHERE story_id = ?", [sid]))) == 3


def test_an_earlier_copy_arriving_later_becomes_canonical_without_changing_the_id(db) -> None:
    late = add(db, "own_daily", "a1", own("own-orchard"), hours=5, title="晚到的标题")
    before = story(db, late)
    early = add(
        db,
        "wire",
        "w1",
        own("own-orchard") + "（完）",
        hours=-3,
        fetched_hours=6,
        title="更早的标题",
    )
    after = story(db, early)
    assert after["id"] == before["id"]
    assert after["canonical_article"] == early and after["title"] == "更早的标题"
    assert after["first_published"] == store.iso(T0 - timedelta(hours=3))
    assert after["updated"] > before["updated"]


def test_outlet_priority_breaks_a_tie_and_a_same_outlet_copy_leaves_updated_alone(db) -> None:
    low = add(db, "small_site", "s1", own("own-market"), priority=0)
    high = add(db, "big_paper", "b1", own("own-market"), priority=9, fetched_hours=1)
    row = story(db, low)
    assert row["canonical_article"] == high
    updated = row["updated"]
    add(db, "big_paper", "b2", own("own-market"), hours=0.5, priority=9, fetched_hours=2)
    assert story(db, low)["updated"] == updated  # neither text nor outlets changed


def test_two_stories_that_turn_out_to_be_one_keep_the_older_id(db) -> None:
    pars = own("own-bridge").split("\n\n")
    a = add(db, "site_a", "a", "\n\n".join(pars[:4]), hours=2)
    b = add(db, "site_b", "b", "\n\n".join(pars[2:]), hours=3)
    sid_a, sid_b = store_stories.story_of(db, a), store_stories.story_of(db, b)
    assert sid_a != sid_b
    full = add(db, "paper", "f", own("own-bridge"), hours=0, fetched_hours=4)
    assert store_stories.story_of(db, full) == sid_a
    assert store_stories.story_of(db, b) == sid_a
    gone = next(db.query("SELECT * FROM stories WHERE id = ?", [sid_b]))
    assert gone["merged_into"] == sid_a and gone["members"] == 0
    assert store_stories.resolve_story(db, sid_b) == sid_a
    assert store_stories.resolve_story(db, sid_a) == sid_a
    assert store_stories.resolve_story(db, "snosuchstory000") is None
    assert story(db, a)["canonical_article"] == full and story(db, a)["members"] == 3
    redirects = list(db.query("SELECT * FROM v_story_redirects"))
    assert redirects == [{"story_id": sid_b, "merged_into": sid_a}]


def test_another_days_report_stays_apart(db) -> None:
    text = own("own-daily-report")
    first = add(db, "health", "d23", text)
    other = (
        text.replace("23日", "24日")
        .replace("312", "287")
        .replace("47", "52")
        .replace("4215", "4502")
        .replace("603", "655")
    )
    second = add(db, "health", "d24", other, hours=24)
    assert store_stories.story_of(db, first) != store_stories.story_of(db, second)


def test_copies_outside_the_time_window_start_a_new_story(db) -> None:
    first = add(db, "own_daily", "a1", own("own-library"))
    much_later = add(db, "wire", "w1", own("own-library"), hours=24 * 10)
    assert store_stories.story_of(db, first) != store_stories.story_of(db, much_later)


def test_related_coverage_is_linked_once_and_readable_both_ways(db) -> None:
    first = add(
        db,
        "radio",
        "r1",
        "东湖工业园区一间仓库今日凌晨起火，消防部门调派多辆消防车赶到现场扑救，"
        "火势约一小时后被扑灭，事故没有造成人员伤亡。据了解，起火仓库主要存放纸箱等包装材料。",
        title="东湖工业园仓库凌晨起火",
    )
    second = add(
        db,
        "paper",
        "p1",
        "东湖工业园区一间仓库今日凌晨起火，消防部门接报后赶到现场扑救，火势约一小时后被扑灭，"
        "没有造成人员伤亡。园区管委会表示，仓库内存放的纸箱等包装材料大部分被烧毁，"
        "具体损失正在统计，园区已组织各企业开展消防安全检查。",
        title="东湖工业园一仓库凌晨失火 损失正在统计",
        hours=3,
    )
    sa, sb = store_stories.story_of(db, first), store_stories.story_of(db, second)
    assert sa != sb
    links = list(db.query("SELECT * FROM story_links"))
    assert len(links) == 1 and links[0]["story_a"] < links[0]["story_b"]
    both = {(r["story_id"], r["related_id"]) for r in db.query("SELECT * FROM v_story_links")}
    assert both == {(sa, sb), (sb, sa)}


def test_merging_again_is_harmless_and_a_text_change_renews_the_fingerprint(db) -> None:
    aid = add(db, "own_daily", "a1", own("own-bridge"))
    result = store_stories.index_and_merge(db, aid)
    assert result.method == "existing" and result.canonical
    assert db.execute("SELECT COUNT(*) FROM story_articles").fetchone()[0] == 1
    old_hash = db.execute("SELECT norm_hash FROM article_signatures").fetchone()[0]
    add(db, "own_daily", "a1", own("own-orchard"))  # same key: the article's text changed
    assert db.execute("SELECT COUNT(*) FROM story_articles").fetchone()[0] == 1
    assert db.execute("SELECT norm_hash FROM article_signatures").fetchone()[0] != old_hash
    assert db.execute("SELECT COUNT(*) FROM lsh_bands").fetchone()[0] == 32
    copy = add(db, "wire", "w1", own("own-orchard"), hours=1)
    assert store_stories.story_of(db, copy) == store_stories.story_of(db, aid)


def test_the_index_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    first_db = store.open_db(path)
    first = add(first_db, "own_daily", "a1", own("own-orchard"))
    sid = store_stories.story_of(first_db, first)
    first_db.conn.close()
    again = store.open_db(path)
    try:
        copy = add(again, "wire", "w1", "(澳門電台消息) " + own("own-orchard"), hours=4)
        assert store_stories.story_of(again, copy) == sid
    finally:
        again.conn.close()


def test_a_failed_transaction_leaves_no_trace(db) -> None:
    with pytest.raises(RuntimeError), store.transaction(db):
        saved = store.save_entry(
            db,
            "own_daily",
            Entry(key="x", title="t", text=own("own-market"), published=T0),
            outlet="own_daily",
            outlet_name=None,
            now=T0,
        )
        store_stories.index_and_merge(db, saved.article_id)
        raise RuntimeError("crash after merging")
    for table in ("stories", "story_articles", "article_signatures", "lsh_bands"):
        assert db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0


def test_merging_an_unknown_article_is_a_storage_error(db) -> None:
    with pytest.raises(StorageError, match="not stored"):
        store_stories.index_and_merge(db, 12345)


def test_story_ids_are_stable_for_the_same_founding_article() -> None:
    assert store_stories.story_id_for("urn:uuid:1") == store_stories.story_id_for("urn:uuid:1")
    assert store_stories.story_id_for("urn:uuid:1") != store_stories.story_id_for("urn:uuid:2")


# -- what the merger keeps so that nothing is normalised twice ----------------------------------

NUMBERS = "\n\n镇上统计，当日共有312人次通行，其中电动车47辆、货车9辆，累计通行4215人次。"
OTHER_NUMBERS = "\n\n镇上统计，当日共有287人次通行，其中电动车52辆、货车6辆，累计通行4502人次。"


def test_short_texts_keep_their_normalised_sentences_and_long_ones_do_not(db) -> None:
    from aggregator.normalise import prepare

    brief = add(db, "radio", "b1", own("own-brief-fire"))
    long = add(db, "own_daily", "a1", own("own-bridge"), hours=1)
    rows = dict(db.execute("SELECT article_id, short_text FROM article_signatures").fetchall())
    assert rows[brief] == "\n".join(prepare(own("own-brief-fire")).sentences)
    assert "".join(rows[brief].split("\n")) == prepare(own("own-brief-fire")).text
    assert rows[long] is None


def _trail(db, ids) -> list:
    return [
        (store_stories.story_of(db, aid), *db.execute(
            "SELECT method, similarity, evidence FROM story_articles WHERE article_id = ?", (aid,)
        ).fetchone())
        for aid in ids
    ]


def test_short_copies_merge_alike_from_the_stored_text_or_from_rows_indexed_before_it(
    tmp_path: Path,
) -> None:
    brief = own("own-brief-fire")
    copies = [brief.replace("据了解，", ""), "（本台消息）" + brief + "\n\n（记者 王五）",
              brief.replace("消防部门", "当地消防部门") + "现场已清理完毕。"]
    trails = []
    for name, forget in (("kept", False), ("old", True)):
        handle = store.open_db(tmp_path / f"{name}.db")
        ids = [add(handle, "radio", "b1", brief)]
        if forget:  # as if indexed before migration 0005: the merger normalises the text
            handle.execute("UPDATE article_signatures SET short_text = NULL")
        ids += [add(handle, f"copy{i}", f"c{i}", text, hours=i + 1)
                for i, text in enumerate(copies)]
        trails.append(_trail(handle, ids))
        handle.conn.close()
    assert trails[0] == trails[1]
    assert len({sid for sid, *_ in trails[0]}) == 1  # every copy joined the brief's story


def test_a_print_computed_ahead_merges_exactly_like_one_computed_from_the_stored_row(
    tmp_path: Path,
) -> None:
    texts = [own("own-bridge"), own("own-brief-fire"), own("own-daily-report"),
             "新华社常州10月19日电（记者 王小川）" + own("own-bridge"),
             opencc.OpenCC("s2hk").convert(own("own-brief-fire")),
             own("own-daily-report").replace("312", "287").replace("47", "52"),
             own("own-library"), own("own-library")[:150]]
    trails = []
    for printed in (False, True):
        handle = store.open_db(tmp_path / f"printed-{printed}.db")
        ids = [add(handle, f"outlet{i % 3}", f"k{i}", text, hours=i, printed=printed)
               for i, text in enumerate(texts)]
        trails.append((_trail(handle, ids), handle.execute(
            "SELECT * FROM article_signatures ORDER BY article_id").fetchall()))
        handle.conn.close()
    assert trails[0] == trails[1]


def test_members_with_numbers_veto_another_edition_even_behind_copies_without(db) -> None:
    """The canonical dropped the numbers; two members kept them (parsed once), one has none:
    the next day's edition matches the canonical but the members' numbers keep it out."""
    base = own("own-bridge")
    canonical = add(db, "reprint", "c", base)
    add(db, "reprint2", "c2", base + "\n\n（完）", hours=0.5)
    with_numbers = [add(db, "town", "m", base + NUMBERS, hours=1),
                    add(db, "wire", "m2", base + NUMBERS, hours=1.5)]
    sid = store_stories.story_of(db, canonical)
    assert all(store_stories.story_of(db, m) == sid for m in with_numbers)
    edition = add(db, "town", "n", base + OTHER_NUMBERS, hours=2)
    assert store_stories.story_of(db, edition) != sid
