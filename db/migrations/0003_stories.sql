-- 0003_stories: stories (one story, many outlets), their members, links and the merge index.
--
-- Every article belongs to exactly one story. A story is shown through its canonical article
-- (earliest published, then outlet priority, then longest text). Every merge records its
-- method, similarity and evidence, so each decision can be explained in SQL.

-- stories: one row per story. `id` is stable ('s' + base32) and never changes or is reused;
-- when two stories turn out to be one, the older (lower seq) survives and the other keeps its
-- row with `merged_into` set, so the server can answer its URL with a redirect.
--   seq               creation order (decides which id survives a merge)
--   canonical_article articles.id whose text the story's feed entry shows
--   first_published   the canonical article's published time (ISO 8601 UTC)
--   updated           when the canonical text or the list of outlets last changed
--   title             the canonical article's title
--   members           number of articles in the story
--   merged_into       NULL for live stories; else the story this one was merged into
CREATE TABLE IF NOT EXISTS stories (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    canonical_article INTEGER,
    first_published TEXT,
    updated TEXT,
    title TEXT,
    members INTEGER NOT NULL DEFAULT 1,
    merged_into TEXT REFERENCES stories(id)
);
CREATE INDEX IF NOT EXISTS stories_first_published ON stories(first_published);
CREATE INDEX IF NOT EXISTS stories_updated ON stories(updated);

-- story_articles: which story each article belongs to and why.
--   method      new (founded the story) | exact | minhash | containment | title
--   similarity  Jaccard or containment estimate that decided it (1.0 for exact)
--   evidence    JSON: against (canonical article compared), jaccard, containment, ratio,
--               short, numbers [agreeing, conflicting], title_similarity, hours_apart
--   joined      when the article joined (its fetch time, else its published time)
CREATE TABLE IF NOT EXISTS story_articles (
    article_id INTEGER PRIMARY KEY,
    story_id TEXT NOT NULL REFERENCES stories(id),
    method TEXT NOT NULL,
    similarity REAL,
    evidence TEXT,
    joined TEXT
);
CREATE INDEX IF NOT EXISTS story_articles_story ON story_articles(story_id);

-- story_links: related coverage, stored once per pair with story_a < story_b.
--   score   0..1, higher is closer
--   method  text (shared passages) | title (similar headline, some shared text, within two
--           days) | bridge (one article matched both stories, neither could absorb the other)
CREATE TABLE IF NOT EXISTS story_links (
    story_a TEXT NOT NULL,
    story_b TEXT NOT NULL,
    score REAL NOT NULL,
    method TEXT NOT NULL,
    evidence TEXT,
    PRIMARY KEY (story_a, story_b)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS story_links_b ON story_links(story_b);

-- article_signatures: the merger's fingerprint of each article (not its text).
--   norm_hash   64-bit hash of the normalised text (exact-copy key)
--   length      normalised characters
--   published   the time used for the candidate window (published, else fetched), ISO UTC
--   day         that time as days since 1970-01-01 (UTC)
--   title_norm  normalised title
--   sig         binary Signature: MinHash (128 x 16 bits), shingle count, number contexts
--   passages    the article's passage keys (little-endian int64s), to unindex it on change
CREATE TABLE IF NOT EXISTS article_signatures (
    article_id INTEGER PRIMARY KEY,
    norm_hash INTEGER NOT NULL,
    length INTEGER NOT NULL,
    published TEXT,
    day INTEGER NOT NULL,
    title_norm TEXT,
    sig BLOB NOT NULL,
    passages BLOB
);
CREATE INDEX IF NOT EXISTS article_signatures_hash ON article_signatures(norm_hash, day);

-- lsh_bands: banded LSH index of the MinHash signatures, 32 bands of 4 rows. `bkey` holds the
-- band number in its high bits (bkey >> 42) and a hash of the band's rows below. Articles that
-- share a key are candidates; `day` in the key keeps lookups to the time window, so the index
-- lives on disk, survives restarts and needs no memory proportional to the archive.
CREATE TABLE IF NOT EXISTS lsh_bands (
    bkey INTEGER NOT NULL,
    day INTEGER NOT NULL,
    article_id INTEGER NOT NULL,
    PRIMARY KEY (bkey, day, article_id)
) WITHOUT ROWID;

-- passage_keys: a bottom-6 sample of the hashes of each article's sentences (12+ normalised
-- characters), to find copies that keep whole sentences but little else in common with the
-- full text: abridged reprints and heavy edits.
CREATE TABLE IF NOT EXISTS passage_keys (
    pkey INTEGER NOT NULL,
    day INTEGER NOT NULL,
    article_id INTEGER NOT NULL,
    PRIMARY KEY (pkey, day, article_id)
) WITHOUT ROWID;

-- title_keys: a bottom-6 sample of each normalised title's character bigrams, to find
-- related coverage whose texts differ but whose headlines do not.
CREATE TABLE IF NOT EXISTS title_keys (
    tkey INTEGER NOT NULL,
    day INTEGER NOT NULL,
    article_id INTEGER NOT NULL,
    PRIMARY KEY (tkey, day, article_id)
) WITHOUT ROWID;

-- v_stories: live stories with their canonical article and their spread.
CREATE VIEW IF NOT EXISTS v_stories AS
SELECT s.id AS story_id,
       s.title,
       s.first_published,
       s.updated,
       s.canonical_article,
       a.url AS canonical_url,
       a.source_id AS canonical_source,
       COALESCE(a.outlet_name, a.outlet, a.source_id) AS canonical_outlet,
       s.members,
       (SELECT COUNT(DISTINCT COALESCE(m.outlet, m.source_id))
          FROM story_articles sa2 JOIN articles m ON m.id = sa2.article_id
         WHERE sa2.story_id = s.id) AS outlets
  FROM stories s
  LEFT JOIN articles a ON a.id = s.canonical_article
 WHERE s.merged_into IS NULL;

-- v_story_articles: every article with its story and the recorded reason it is there.
CREATE VIEW IF NOT EXISTS v_story_articles AS
SELECT sa.story_id,
       sa.article_id,
       sa.article_id = s.canonical_article AS is_canonical,
       COALESCE(a.outlet_name, a.outlet, a.source_id) AS outlet,
       a.source_id,
       a.title,
       a.url,
       a.published,
       sa.method,
       sa.similarity,
       sa.evidence,
       sa.joined
  FROM story_articles sa
  JOIN stories s ON s.id = sa.story_id
  LEFT JOIN articles a ON a.id = sa.article_id;

-- v_story_links: related coverage in both directions (story_id -> related_id).
CREATE VIEW IF NOT EXISTS v_story_links AS
SELECT story_a AS story_id, story_b AS related_id, score, method, evidence FROM story_links
UNION ALL
SELECT story_b AS story_id, story_a AS related_id, score, method, evidence FROM story_links;

-- v_story_redirects: ids that now answer with a redirect, and where to.
CREATE VIEW IF NOT EXISTS v_story_redirects AS
SELECT id AS story_id, merged_into FROM stories WHERE merged_into IS NOT NULL;
