"""Publishing costs on a large synthetic archive: subscription documents with RFC 5005
archives, writing and serving archive pages, search, and the hub's change detection.

Each figure is printed beside a baseline measured in the same run on the same database:
  * subscription document: the pre-archive query (newest N stories by date, membership
    checked over the whole history) against the open-members query (entries since the last
    archive page only);
  * search: a plain `LIKE '%…%'` scan of every article's text against the FTS5 phrase query.

The database is filled with plain SQL (articles, stories, tags, the full-text index), not
through the merger, so that tens of thousands of stories take seconds to build.

    python bench/bench_publish.py [--stories 20000] [--feed-size 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator import archive, fts, render, search, websub
from aggregator.store import iso, open_db, transaction
from aggregator.views import FeedSpec, feed_doc, member_items, newest_first, open_members

POOL = ("武进区召开安全生产工作会议部署冬季消防检查湖塘镇牛塘镇推进老旧小区改造南通市崇川区开展"
        "宣传活动家庭医生签约服务疫情防控积案化解重点项目经济发展民生保障文明创建乡村振兴")
REGIONS = [("320000", "province"), ("320400", "city"), ("320412", "county"),
           ("320402", "county"), ("320600", "city"), ("320613", "county")]
TOPICS = ["work-safety", "petitions", "public-security", "health", "education", "transport"]
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def build(path: Path, n: int) -> None:
    db = open_db(path)
    rng = random.Random(5)
    conn = db.conn
    conn.execute("BEGIN")
    conn.execute("INSERT INTO sources (id, name, url, kind, interval) VALUES"
                 " ('s', '来源', 'http://x/', 'feed', 3600)")
    for i in range(1, n + 1):
        when = iso(T0 + timedelta(minutes=7 * i + rng.randrange(600)))
        body = "".join(rng.choice(POOL) for _ in range(400))
        if i % 50 == 0:
            body += "公安机关开展反诈宣传"
        title = body[:18]
        conn.execute(
            "INSERT INTO articles (id, uid, source_id, outlet, outlet_name, key, url, title,"
            " published, fetched, changed, sort_time, content_html, text, content_hash)"
            " VALUES (?, ?, 's', 's', '来源', ?, ?, ?, ?, ?, ?, ?, ?, ?, '')",
            [i, f"urn:a:{i}", f"k{i}", f"http://x/{i}", title, when, when, when, when,
             f"<p>{body}</p>", body])
        conn.execute("INSERT INTO articles_fts (rowid, title, body) VALUES (?, ?, ?)",
                     [i, fts.index_text(title), fts.index_text(body)])
        sid = f"s{i:08d}"
        conn.execute("INSERT INTO stories (id, seq, canonical_article, first_published, updated,"
                     " title, members) VALUES (?, ?, ?, ?, ?, ?, 1)",
                     [sid, i, i, when, when, title])
        conn.execute("INSERT INTO story_articles (article_id, story_id, method, joined)"
                     " VALUES (?, ?, 'new', ?)", [i, sid, when])
        # a county with its city and province, as the tagger stores every level
        county = rng.choice([2, 3, 5])
        chain = [REGIONS[county], REGIONS[1 if county < 4 else 4], REGIONS[0]]
        conn.executemany("INSERT INTO article_regions (article_id, code, level, score)"
                         " VALUES (?, ?, ?, 0.8)", [(i, c, lv) for c, lv in chain])
        conn.execute("INSERT INTO article_topics (article_id, slug, score) VALUES (?, ?, 0.7)",
                     [i, rng.choice(TOPICS)])
    conn.execute("COMMIT")
    conn.close()


def legacy_rows(db, spec: FeedSpec, limit: int) -> list:
    """The query feeds used before archives: newest stories by date, over all history."""
    clauses, args = [], []
    if spec.region:
        clauses.append("a.id IN (SELECT article_id FROM article_regions WHERE code = ?)")
        args.append(spec.region)
    member = ""
    if clauses:
        member = (" AND s.id IN (SELECT sa.story_id FROM story_articles sa"
                  f" JOIN articles a ON a.id = sa.article_id WHERE {' AND '.join(clauses)})")
    return db.execute(
        "SELECT s.id FROM stories s JOIN articles c ON c.id = s.canonical_article"
        f" WHERE s.merged_into IS NULL AND c.type = 'article'{member}"
        " ORDER BY coalesce(s.first_published, c.sort_time) DESC, s.seq DESC LIMIT ?",
        [*args, limit]).fetchall()


def timed(fn, repeat: int = 5) -> float:
    """Median milliseconds of `repeat` runs."""
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stories", type=int, default=20000)
    ap.add_argument("--feed-size", type=int, default=50)
    args = ap.parse_args()
    n, size = args.stories, args.feed_size
    base = "http://127.0.0.1:8080/"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        t = time.perf_counter()
        build(path, n)
        print(f"database: {n} stories built in {time.perf_counter() - t:.1f} s")
        db = open_db(path)
        specs = {"all": FeedSpec(), "region/320412": FeedSpec(region="320412")}

        print(f"\nwriting archive pages ({size} entries each), from an empty archive:")
        for key, spec in specs.items():
            t = time.perf_counter()
            pages = 0
            while True:
                with transaction(db):
                    wrote = archive.freeze(db, spec, page_size=size, title=key, base_url=base)
                pages += wrote
                if not wrote:
                    break
            took = time.perf_counter() - t
            print(f"  {key:16} {pages:5d} pages in {took:6.2f} s = {pages / took:7.0f} pages/s")

        print("\nsubscription document query (median ms):      baseline  archived")
        for key, spec in specs.items():
            old = timed(lambda spec=spec: legacy_rows(db, spec, size))

            def new(spec=spec):
                last, members = archive.pending(db, spec)
                return members

            print(f"  {key:16} members only                 {old:8.2f}  {timed(new):8.2f}")

            def whole(spec=spec):
                last, members = archive.pending(db, spec)
                items = newest_first(member_items(db, spec, members, base_url=base))
                return render.render_atom(_doc(spec, items, base))

            print(f"  {key:16} + items and Atom rendering        -  {timed(whole):8.2f}")
        print("\narchive page read and rendered (median ms):")
        for key in specs:
            ms = timed(lambda key=key: render.render_atom(_doc(
                specs[key], archive.page_items(db, key, 1, base_url=base), base)))
            print(f"  {key:16} {ms:8.2f}")

        print("\nsearch for a two-character word (median ms):  LIKE scan  FTS5")
        query = search.parse_search({"q": "反诈"}, resolve_region=lambda c: c, topics={})
        like = timed(lambda: db.execute(
            "SELECT id FROM articles WHERE text LIKE '%反诈%' ORDER BY sort_time DESC LIMIT ?",
            [size]).fetchall())
        ranked = timed(lambda: search.ranked(db, query, limit=20))
        by_time = timed(lambda: search.by_time(db, query, limit=size))
        print(f"  ranked by relevance (HTML)                 {like:8.2f}  {ranked:8.2f}")
        print(f"  by time (feed)                             {like:8.2f}  {by_time:8.2f}")
        regional = search.parse_search({"q": "反诈", "region": "320412"},
                                       resolve_region=lambda c: c, topics={})
        print(f"  by time, region 320412                            -  "
              f"{timed(lambda: search.by_time(db, regional, limit=size)):8.2f}")

        newest = websub.newest_article(db)
        since = iso(T0 + timedelta(days=3650))
        ms = timed(lambda: websub.changes_since(db, newest - 10, since))
        keys = len(websub.changes_since(db, newest - 10, since).keys)
        print(f"\nhub change detection after 10 new articles: {ms:.2f} ms, {keys} feeds touched")
        open_now = len(open_members(db, FeedSpec()))
        print(f"'all' keeps {open_now} entries in its subscription document "
              f"(between {size} and {2 * size - 1})")
        db.conn.close()


def _doc(spec: FeedSpec, items, base: str):
    return feed_doc(spec.key, title=spec.key, base_url=base, self_url=f"{base}feeds/x.atom",
                    html_url=base, items=items)


if __name__ == "__main__":
    main()
