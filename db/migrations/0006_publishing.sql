-- 0006_publishing: RFC 5005 archive pages of every published feed, and the WebSub hub.
--
-- Archives. A feed's entries are archived in the order they arrived in it (the id of the
-- first article that brought the story into the feed), in pages of `feed_size` entries
-- numbered from 1 (the oldest). A page is written once, when the feed holds two pages' worth
-- of entries that are not archived yet, and never changes afterwards: its entries and their
-- content as they were then are stored here (`archive_items`), so later outlets, edits,
-- merges or late articles with old dates can never alter a complete archive's bytes. What
-- arrives later is published in the subscription document and archived in a later page.

-- archive_pages: one row per complete archive page of a feed.
--   feed           the feed's key: all | source/ID | region/CODE | topic/SLUG |
--                  region/CODE/topic/SLUG
--   page           1 for the oldest page
--   title          the feed's title when the page was written (kept, so it never changes)
--   first_arrival, last_arrival   arrival keys (article ids) of its oldest and newest entry
--   entries        number of entries
--   updated        the newest entry's `updated` time (the page's Last-Modified)
--   created        when the page was written
CREATE TABLE IF NOT EXISTS archive_pages (
    feed TEXT NOT NULL,
    page INTEGER NOT NULL,
    title TEXT NOT NULL,
    first_arrival INTEGER NOT NULL,
    last_arrival INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    updated TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (feed, page)
) WITHOUT ROWID;

-- archive_entries: which page of which feed holds an entry; an entry is archived once per feed.
--   entry    the entry id as published (urn:aggregator:story:… or an article's uid)
--   arrival  the id of the article that brought the entry into the feed
CREATE TABLE IF NOT EXISTS archive_entries (
    feed TEXT NOT NULL,
    entry TEXT NOT NULL,
    page INTEGER NOT NULL,
    arrival INTEGER NOT NULL,
    PRIMARY KEY (feed, entry)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS archive_entries_page ON archive_entries (feed, page, arrival);

-- archive_items: an entry's content as first archived (JSON: title, link, times, content,
-- outlets, regions, topics, related; our own links relative to the site root), shared by
-- every feed that archives it. Query it with json_extract(data, '$.title').
CREATE TABLE IF NOT EXISTS archive_items (
    entry TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    frozen TEXT NOT NULL
);

-- websub_subscriptions: verified WebSub subscriptions to our feeds (the built-in hub).
--   topic          the feed URL subscribed to (as published in rel="self")
--   callback       the subscriber's URL; content is POSTed there
--   secret         HMAC key for X-Hub-Signature (NULL: unsigned)
--   lease_seconds, expires   the lease granted at verification; expired rows get nothing
--   last_delivery, last_status, failures   the latest delivery's outcome; failures counts
--                  consecutive failed deliveries
CREATE TABLE IF NOT EXISTS websub_subscriptions (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    callback TEXT NOT NULL,
    secret TEXT,
    lease_seconds INTEGER NOT NULL,
    created TEXT NOT NULL,
    expires TEXT NOT NULL,
    last_delivery TEXT,
    last_status INTEGER,
    failures INTEGER NOT NULL DEFAULT 0,
    UNIQUE (topic, callback)
);
CREATE INDEX IF NOT EXISTS websub_subscriptions_expires ON websub_subscriptions (expires);

-- websub_topics: the last content the hub distributed for each topic (sha256 of the bytes),
-- so subscribers get a feed only when its bytes changed.
CREATE TABLE IF NOT EXISTS websub_topics (
    topic TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    published TEXT NOT NULL
) WITHOUT ROWID;

-- The hub looks for articles changed since its last check after every poll.
CREATE INDEX IF NOT EXISTS articles_changed ON articles (changed);
