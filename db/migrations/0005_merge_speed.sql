-- 0005_merge_speed: the merger keeps what it compares exactly, instead of normalising again.
--
-- article_signatures.short_text: for an article under 400 normalised characters, its
-- normalised sentences, one per line (without the newlines: its normalised text). Such short
-- texts are compared character by character rather than by MinHash estimate, and every new
-- article that might match one needed the stored text normalised again; now it is read here.
-- NULL for longer texts, for the rare text whose sentences do not add up to its normalised
-- text, and for rows indexed before this migration: the merger then normalises
-- articles.text as it always did, so nothing needs re-indexing.
ALTER TABLE article_signatures ADD COLUMN short_text TEXT;
