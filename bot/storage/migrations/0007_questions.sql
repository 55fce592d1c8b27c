-- migration: foreign keys off
-- Ask the office: questions a resident sends to the office's staff chats, their answers, chats
-- blocked from asking, and the days the reminder of old open questions was written.
--
-- The broadcasts table is rebuilt (as in 0005) to allow the purposes of this feature, which
-- belong to no announcement: 'question' (a question posted into the staff chats), 'answer' (the
-- office's answer to the asking chat), 'office' (any other notice: closed, answered by, the
-- reminder of open questions) and 'edit' (a staff-chat copy rewritten after `forget`; detail is
-- JSON with the platform message id and the new text).
CREATE TABLE broadcasts_new (
    id              INTEGER PRIMARY KEY,
    announcement_id INTEGER REFERENCES announcements (id) ON DELETE CASCADE,
    purpose         TEXT NOT NULL
                    CHECK (purpose IN ('publication', 'reminder', 'correction', 'summary',
                                       'digest', 'question', 'answer', 'office', 'edit')),
    due_at          TEXT NOT NULL,
    -- per purpose: a correction's changed fields, a summary's counts, a reminder's target and
    -- occurrence (JSON); the text of a digest, a question post, an answer or a notice; an edit
    detail          TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    finished_at     TEXT,
    CHECK ((announcement_id IS NULL)
           = (purpose IN ('digest', 'question', 'answer', 'office', 'edit')))
);
INSERT INTO broadcasts_new (id, announcement_id, purpose, due_at, detail, created_at, finished_at)
    SELECT id, announcement_id, purpose, due_at, detail, created_at, finished_at FROM broadcasts;
DROP TABLE broadcasts;
ALTER TABLE broadcasts_new RENAME TO broadcasts;
CREATE INDEX broadcasts_by_announcement ON broadcasts (announcement_id, purpose);
CREATE INDEX broadcasts_unfinished ON broadcasts (id) WHERE finished_at IS NULL;

CREATE TABLE questions (
    id              INTEGER PRIMARY KEY,
    -- the asking chat: where the answer goes (the question goes with it when the chat is erased)
    chat_ref        INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    language        TEXT NOT NULL,
    text            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'answered', 'closed')),
    asked_at        TEXT NOT NULL,
    answer          TEXT,
    -- who answered or closed it (an identity, 'cli:<OS user>' from the command line) and when
    answered_by     TEXT,
    answered_at     TEXT
);
CREATE INDEX questions_by_chat ON questions (chat_ref, state);
CREATE INDEX questions_by_state ON questions (state, asked_at);

-- A question's posts: one broadcast per staff chat. Its outbox row keeps the id of the message
-- it became (outbox.platform_message_id, added by 0011): a staff member's reply is matched by it.
CREATE TABLE question_posts (
    question_id     INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    broadcast_id    INTEGER NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    PRIMARY KEY (question_id, broadcast_id)
);
CREATE INDEX question_posts_by_broadcast ON question_posts (broadcast_id);

CREATE TABLE question_blocks (
    chat_ref        INTEGER PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
    blocked_by      TEXT NOT NULL,
    blocked_at      TEXT NOT NULL
);

-- One row per local day the reminder of old open questions was written (once a working day,
-- whichever process writes it first).
CREATE TABLE question_reminders (
    day             TEXT PRIMARY KEY,
    written_at      TEXT NOT NULL
);

-- Which unanswered FAQ questions became questions for the office (`unanswered` marks them).
ALTER TABLE unanswered_questions ADD COLUMN question_id INTEGER
    REFERENCES questions (id) ON DELETE SET NULL;
