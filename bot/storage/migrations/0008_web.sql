-- The web console (issue #12): one-time login links, sessions, and the subscription history
-- behind the dashboard's chart. Tokens are stored only as SHA-256 hashes: a copy of the
-- database opens no session.

-- A login link: valid 15 minutes, used at most once (used_at set when it starts a session).
CREATE TABLE web_login_links (
    token_hash  TEXT PRIMARY KEY,
    identity    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX web_login_links_by_identity ON web_login_links (identity);

-- A staff member's session in a browser: ends 12 hours after its last request, at logout, or
-- when the identity stops being staff. `language` is the console's language they chose (NULL:
-- their chat's language).
CREATE TABLE web_sessions (
    token_hash    TEXT PRIMARY KEY,
    identity      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    language      TEXT CHECK (language IN ('pl', 'uk', 'en'))
);
CREATE INDEX web_sessions_by_identity ON web_sessions (identity);

-- Subscriptions started and ended per hour (UTC) and topic: counts, no chat, for the chart of
-- the last 90 days (grouped into local days by the console). Filled from now on by the chat
-- store; the subscriptions existing today are counted at the hour they began.
CREATE TABLE subscription_hours (
    hour     TEXT NOT NULL,
    topic    TEXT NOT NULL,
    added    INTEGER NOT NULL DEFAULT 0,
    removed  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, topic)
) WITHOUT ROWID;
INSERT INTO subscription_hours (hour, topic, added)
    SELECT substr(created_at, 1, 13), topic, COUNT(*) FROM subscriptions
    GROUP BY substr(created_at, 1, 13), topic;

-- The console counts each announcement's messages by state on every page view (the list, the
-- dashboard, the live progress): an index holding both columns answers without reading the rows.
CREATE INDEX outbox_by_broadcast_state ON outbox (broadcast_id, state);
