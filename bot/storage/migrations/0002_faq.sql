-- Questions the FAQ could not answer: the office's to-do list for new content.
-- No user or chat id on purpose; rows older than 90 days are deleted.
CREATE TABLE unanswered_questions (
    id          INTEGER PRIMARY KEY,
    asked_at    TEXT NOT NULL,
    language    TEXT NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX unanswered_by_time ON unanswered_questions (asked_at);
