-- 0001: sources, articles, fetches, tags and the Chinese-capable full-text index.
-- Times are ISO 8601 strings in UTC ('YYYY-MM-DDTHH:MM:SS+00:00'), so they sort as text.

-- One row per source defined in feeds/*.toml (or imported from OPML), with its polling state.
CREATE TABLE sources (
    id TEXT PRIMARY KEY,            -- the id from the TOML table
    name TEXT NOT NULL,             -- outlet name, e.g. 常州日报
    url TEXT NOT NULL,              -- current URL (may change after permanent redirects)
    kind TEXT NOT NULL,             -- feed | epaper-text | epaper-html | page | posts
    region TEXT,                    -- home region code
    topics TEXT NOT NULL DEFAULT '[]',  -- default topic slugs (JSON list)
    interval INTEGER NOT NULL,      -- seconds between polls
    enabled INTEGER NOT NULL DEFAULT 1,
    priority INTEGER NOT NULL DEFAULT 0,
    defined INTEGER NOT NULL DEFAULT 1,  -- 0: seen in data (ingest/import) but no TOML defines it
    title TEXT,                     -- title the feed gives itself
    link TEXT,                      -- home page the feed names
    etag TEXT,                      -- validators for conditional GET
    last_modified TEXT,
    body_hash TEXT,                 -- hash of the last body, to spot new ETags on identical content
    state TEXT NOT NULL DEFAULT '{}',    -- small per-kind state (JSON), e.g. last e-paper issue
    last_polled TEXT,
    last_ok TEXT,
    last_status INTEGER,
    last_error TEXT,                -- readable reason of the last failure, NULL when the last poll was fine
    error_count INTEGER NOT NULL DEFAULT 0,  -- consecutive failures
    next_poll TEXT,                 -- when the scheduler polls it next
    disabled_reason TEXT            -- set when the source disabled itself (e.g. 410 Gone)
);

-- One row per article: the unit everything else refers to.
CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,       -- stable public id (urn:uuid:…), never changes
    source_id TEXT NOT NULL,        -- the source that delivered it (sources.id, may be undefined)
    outlet TEXT NOT NULL,           -- outlet id (= source_id unless the item names its own outlet)
    outlet_name TEXT,
    key TEXT NOT NULL,              -- identity within the source: guid/id, canonical link or content hash
    ext_id TEXT,                    -- the record's own id when imported (aggregator import)
    url TEXT,
    title TEXT NOT NULL,
    kicker TEXT,                    -- 引题
    subtitle TEXT,                  -- 副题
    author TEXT,
    reporters TEXT NOT NULL DEFAULT '[]',   -- JSON list
    type TEXT NOT NULL DEFAULT 'article',   -- article | photo
    position INTEGER,               -- order on its e-paper page
    published TEXT,                 -- from the source; NULL when unknown
    updated TEXT,
    fetched TEXT NOT NULL,          -- first stored
    changed TEXT NOT NULL,          -- last time its content changed
    sort_time TEXT NOT NULL,        -- published, else fetched: the order of feeds
    summary TEXT NOT NULL DEFAULT '',
    content_html TEXT NOT NULL DEFAULT '',  -- sanitised HTML
    text TEXT NOT NULL DEFAULT '',          -- plain text, paragraphs separated by a blank line
    categories TEXT NOT NULL DEFAULT '[]',  -- JSON list
    content_hash TEXT NOT NULL,     -- hash over title, text, url, author (what counts as a change)
    truncated INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source_id, key)
);
CREATE INDEX articles_sort ON articles (sort_time DESC, id DESC);
CREATE INDEX articles_source_sort ON articles (source_id, sort_time DESC, id DESC);
CREATE INDEX articles_outlet_sort ON articles (outlet, sort_time DESC, id DESC);

-- Every fetch outcome, per source.
CREATE TABLE fetches (
    id INTEGER PRIMARY KEY,
    source_id TEXT NOT NULL,
    url TEXT NOT NULL,
    started TEXT NOT NULL,
    status INTEGER,                 -- HTTP status (0 for file:// reads), NULL when no response
    bytes INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL,          -- ok | not-modified | unchanged | error
    error TEXT,                     -- readable reason
    new INTEGER NOT NULL DEFAULT 0, -- articles added
    updated INTEGER NOT NULL DEFAULT 0  -- articles whose content changed
);
CREATE INDEX fetches_source ON fetches (source_id, started DESC);

-- Region tags: one row per article and region, every level present.
CREATE TABLE article_regions (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    code TEXT NOT NULL,             -- GB/T 2260 (6 digits), town code (9 digits) or zone id (Z…)
    level TEXT NOT NULL,            -- province | city | county | town | zone
    score REAL NOT NULL,
    evidence TEXT NOT NULL DEFAULT '[]',    -- JSON list of {text, start, rule}
    PRIMARY KEY (article_id, code)
) WITHOUT ROWID;
CREATE INDEX article_regions_code ON article_regions (code, article_id);

-- Topic tags: one row per article and topic.
CREATE TABLE article_topics (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    score REAL NOT NULL,
    terms TEXT NOT NULL DEFAULT '[]',       -- JSON list of matched terms
    PRIMARY KEY (article_id, slug)
) WITHOUT ROWID;
CREATE INDEX article_topics_slug ON article_topics (slug, article_id);

-- Full-text index. Chinese has no spaces, so the indexed text has a space between CJK
-- characters (one token each); a query becomes a phrase of its characters, which finds
-- two-character words (信访, 反诈) as well as longer phrases. rowid = articles.id.
CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title, body,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Readable views for sqlite3 / Datasette users.
CREATE VIEW v_articles AS
SELECT a.id, a.uid, a.source_id, s.name AS source_name, a.outlet, a.outlet_name, a.title,
       a.url, a.published, a.fetched, a.type, length(a.text) AS chars
FROM articles a LEFT JOIN sources s ON s.id = a.source_id;

CREATE VIEW v_source_health AS
SELECT s.id, s.name, s.kind, s.enabled, s.last_polled, s.last_ok, s.last_status,
       s.error_count, s.last_error, s.next_poll,
       (SELECT count(*) FROM articles a WHERE a.source_id = s.id) AS articles
FROM sources s;
