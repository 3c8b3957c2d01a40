-- Divisions imported by `aggregator geo import FILE` (townships, NBS zones, MCA history).
-- The packaged province/city/county list is not stored here; gazetteer.load_gazetteer merges
-- the two at start-up. Lists are '|' separated.
CREATE TABLE IF NOT EXISTS divisions (
    code TEXT PRIMARY KEY,      -- GB/T 2260 (6), NBS township (9) or project id ('Z...')
    name TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('province', 'city', 'county', 'town', 'zone')),
    parent TEXT,                -- may be an old code; mapped through division_aliases on load
    aliases TEXT NOT NULL DEFAULT '',
    former_names TEXT NOT NULL DEFAULT '',
    local TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL        -- nbs | mca | areacity
);
CREATE INDEX IF NOT EXISTS divisions_parent ON divisions (parent);
CREATE INDEX IF NOT EXISTS divisions_name ON divisions (name);

-- Old codes and the unit that holds their ground today (320602 -> 320613).
CREATE TABLE IF NOT EXISTS division_aliases (
    old_code TEXT PRIMARY KEY,
    new_code TEXT NOT NULL,
    changed TEXT,               -- year of the change, when known
    origin TEXT NOT NULL
);
