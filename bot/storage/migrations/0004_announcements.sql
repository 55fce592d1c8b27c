-- Announcements; their broadcasts (the publication, each reminder, each correction, the author's
-- summary); the outbox of messages to deliver, one row per broadcast and recipient chat; and the
-- half-written announcements of staff members in the guided flow.
CREATE TABLE announcements (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL
                    CHECK (kind IN ('grant-deadline', 'tax-campaign', 'meeting', 'news')),
    topic           TEXT NOT NULL,
    title_pl        TEXT NOT NULL,
    text_pl         TEXT NOT NULL,
    title_uk        TEXT,
    text_uk         TEXT,
    title_en        TEXT,
    text_en         TEXT,
    deadline        TEXT,
    starts_at       TEXT,
    ends_at         TEXT,
    location        TEXT,
    url             TEXT,
    remind          TEXT NOT NULL,
    publish_at      TEXT NOT NULL,
    urgent          INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
    status          TEXT NOT NULL CHECK (status IN ('scheduled', 'sending', 'sent', 'cancelled')),
    author          TEXT NOT NULL,
    author_chat_ref INTEGER REFERENCES chats (id) ON DELETE SET NULL,
    -- the fields changed by the latest edit, comma-separated: what a correction notice mentions
    last_changed    TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX announcements_scheduled ON announcements (publish_at) WHERE status = 'scheduled';
CREATE INDEX announcements_author_chat ON announcements (author_chat_ref);

CREATE TABLE broadcasts (
    id              INTEGER PRIMARY KEY,
    announcement_id INTEGER NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    purpose         TEXT NOT NULL
                    CHECK (purpose IN ('publication', 'reminder', 'correction', 'summary')),
    -- when it fell due: the publication time, a reminder's moment, the time of a correction
    due_at          TEXT NOT NULL,
    -- per purpose: a correction's changed fields, a summary's counts (JSON)
    detail          TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX broadcasts_by_announcement ON broadcasts (announcement_id, purpose);
CREATE INDEX broadcasts_unfinished ON broadcasts (id) WHERE finished_at IS NULL;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    broadcast_id    INTEGER NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    chat_ref        INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'claimed', 'retrying', 'sent', 'failed', 'gone',
                                     'cancelled')),
    -- copied from the announcement so that quiet hours can be applied by the claim's index
    urgent          INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_at      TEXT,
    claimed_by      TEXT,
    sent_at         TEXT,
    detail          TEXT NOT NULL DEFAULT '',
    UNIQUE (broadcast_id, chat_ref)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state IN ('pending', 'retrying');
CREATE INDEX outbox_claimed ON outbox (claimed_at) WHERE state = 'claimed';
CREATE INDEX outbox_by_chat ON outbox (chat_ref);

CREATE TABLE drafts (
    identity        TEXT NOT NULL,
    chat_ref        INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    step            TEXT NOT NULL,
    data            TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (identity, chat_ref)
);
