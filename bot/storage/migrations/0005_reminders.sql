-- migration: foreign keys off
-- Reminders (one row per planned reminder: the scheduler's only source of truth), recurring
-- meetings (the rule, and one-off changes of an occurrence's place), the weekly digest opt-in
-- per chat, and digest broadcasts (which belong to no announcement).
--
-- The broadcasts table is rebuilt to allow the digest purpose and a NULL announcement: the
-- SQLite procedure for changing a table's constraints, run with foreign keys off (the first
-- line tells the migration runner) so that dropping the old table does not cascade to the
-- outbox, whose rows keep their broadcast ids.
ALTER TABLE announcements ADD COLUMN repeat TEXT;

CREATE TABLE broadcasts_new (
    id              INTEGER PRIMARY KEY,
    announcement_id INTEGER REFERENCES announcements (id) ON DELETE CASCADE,
    purpose         TEXT NOT NULL
                    CHECK (purpose IN ('publication', 'reminder', 'correction', 'summary',
                                       'digest')),
    -- when it fell due: the publication time, a reminder's moment, the time of a correction
    due_at          TEXT NOT NULL,
    -- per purpose: a correction's changed fields, a summary's counts, a reminder's target and
    -- occurrence (JSON); a digest's text
    detail          TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    finished_at     TEXT,
    CHECK ((announcement_id IS NULL) = (purpose = 'digest'))
);
INSERT INTO broadcasts_new (id, announcement_id, purpose, due_at, detail, created_at, finished_at)
    SELECT id, announcement_id, purpose, due_at, detail, created_at, finished_at FROM broadcasts;
DROP TABLE broadcasts;
ALTER TABLE broadcasts_new RENAME TO broadcasts;
CREATE INDEX broadcasts_by_announcement ON broadcasts (announcement_id, purpose);
CREATE INDEX broadcasts_unfinished ON broadcasts (id) WHERE finished_at IS NULL;

CREATE TABLE reminders (
    id              INTEGER PRIMARY KEY,
    announcement_id INTEGER NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    -- what it reminds of: the deadline, the meeting's start, or one occurrence's start
    target_at       TEXT NOT NULL,
    -- when its offset says, and when it goes out (later when quiet hours hold then)
    due_at          TEXT NOT NULL,
    send_at         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('planned', 'sent', 'dropped', 'cancelled')),
    -- why it was dropped or cancelled (a code: see bot/storage/reminders.py)
    reason          TEXT NOT NULL DEFAULT '',
    broadcast_id    INTEGER REFERENCES broadcasts (id) ON DELETE SET NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (announcement_id, target_at, due_at)
);
CREATE INDEX reminders_planned ON reminders (send_at) WHERE state = 'planned';

-- A counter bumped by every change of the reminders table: a running scheduler polls it (one
-- row, one read) to notice rows written by another process, e.g. the command line.
CREATE TABLE reminder_changes (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    version         INTEGER NOT NULL
);
INSERT INTO reminder_changes (id, version) VALUES (1, 0);
CREATE TRIGGER reminders_inserted AFTER INSERT ON reminders
BEGIN
    UPDATE reminder_changes SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER reminders_updated AFTER UPDATE OF send_at, state ON reminders
BEGIN
    UPDATE reminder_changes SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER reminders_deleted AFTER DELETE ON reminders
BEGIN
    UPDATE reminder_changes SET version = version + 1 WHERE id = 1;
END;

-- One occurrence of a recurring meeting held somewhere else: keyed by its start (UTC).
CREATE TABLE occurrences (
    announcement_id INTEGER NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    starts_at       TEXT NOT NULL,
    location        TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (announcement_id, starts_at)
) WITHOUT ROWID;

-- Chats that chose the weekly digest instead of separate reminders.
CREATE TABLE digests (
    chat_ref        INTEGER PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
    schedule        TEXT NOT NULL CHECK (schedule IN ('weekly')),
    created_at      TEXT NOT NULL,
    -- the ISO week ('2026-W16') of the latest digest written for the chat
    last_week       TEXT
);
