-- 0004_polling: what the polling policy remembers about each source, and its state in words.
--
-- The policy (aggregator/policy.py) is a pure function of these columns, the source's
-- recent rows in `fetches` and the last response; the scheduler writes the result back as
-- next_poll and poll_state, in the same transaction, so `sqlite3` users and the HTML index
-- see why a source is (not) being polled.

-- The URL as the TOML defines it. `url` is what is polled: it differs after a permanent
-- redirect (301/308) was seen on 3 consecutive polls. Editing the URL in the TOML resets
-- `url`, the validators, the redirect evidence and a self-disabled state.
ALTER TABLE sources ADD COLUMN defined_url TEXT;
-- Permanent redirect seen on the last polls: its target and on how many consecutive polls.
ALTER TABLE sources ADD COLUMN redirect_target TEXT;
ALTER TABLE sources ADD COLUMN redirect_count INTEGER NOT NULL DEFAULT 0;
-- Nothing is sent to this source's host before this time (ISO 8601 UTC): 429/503 with
-- Retry-After, on this source or another on the same host:port.
ALTER TABLE sources ADD COLUMN retry_after TEXT;
-- Freshness the server announced on its last response: Cache-Control max-age or Expires
-- (seconds), and RSS <ttl> (minutes). They may stretch the delay, never beyond 4 intervals.
ALTER TABLE sources ADD COLUMN max_age INTEGER;
ALTER TABLE sources ADD COLUMN ttl INTEGER;
-- Observed publishing rate: new articles per day over the recent successful polls
-- (NULL until there are three); the adaptive delay stays within [interval/4, interval*4].
ALTER TABLE sources ADD COLUMN publish_rate REAL;
-- The state in words: "ok", "backing off until … after N failures", "waiting until …: the
-- server asked (Retry-After)", "disabled: gone (410) …", plus redirect evidence.
ALTER TABLE sources ADD COLUMN poll_state TEXT;

UPDATE sources SET defined_url = url WHERE defined_url IS NULL;

-- fetches.outcome gains two values: 'deferred' (nothing sent: the host's Retry-After has not
-- passed) and 'disabled' is never recorded (a disabled source is not polled at all).

DROP VIEW IF EXISTS v_source_health;
CREATE VIEW v_source_health AS
SELECT s.id, s.name, s.kind, s.enabled, s.disabled_reason, s.poll_state, s.url,
       s.defined_url, s.last_polled, s.last_ok, s.last_status, s.error_count, s.last_error,
       s.next_poll, s.retry_after, s.redirect_target, s.redirect_count, s.max_age, s.ttl,
       s.publish_rate,
       (SELECT count(*) FROM articles a WHERE a.source_id = s.id) AS articles
FROM sources s;
