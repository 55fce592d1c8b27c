-- Foundation: chats, their subscriptions, staff, the audit log, the console inbox, the heartbeat.
CREATE TABLE chats (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('private', 'group', 'room')),
    language    TEXT CHECK (language IN ('pl', 'uk', 'en')),
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  TEXT NOT NULL,
    UNIQUE (platform, chat_id)
);

CREATE TABLE subscriptions (
    chat_ref    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    topic       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (chat_ref, topic)
) WITHOUT ROWID;
CREATE INDEX subscriptions_by_topic ON subscriptions (topic, chat_ref);

CREATE TABLE staff (
    identity    TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'staff')),
    added_by    TEXT NOT NULL,
    added_at    TEXT NOT NULL
);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);

CREATE TABLE console_inbox (
    id          INTEGER PRIMARY KEY,
    chat_ref    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    text        TEXT NOT NULL,
    shown_at    TEXT
);
CREATE INDEX console_inbox_unshown ON console_inbox (chat_ref, shown_at);

CREATE TABLE heartbeat (
    name        TEXT PRIMARY KEY,
    pid         INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    beat_at     TEXT NOT NULL,
    stopped_at  TEXT
);
