-- Telegram channels and forum topics.
--
-- A channel named in TELEGRAM_CHANNELS is a chat (platform telegram, its numeric id, kind
-- group, its language) with no subscriptions: it gets only publications, through its routes
-- (the topics it takes, '*' for all), never reminders or correction notices. `active` of its
-- chat row says whether the bot may post there (checked at each start). A forum topic is a chat
-- of its own whose id is '<group id>#<message_thread_id>': nothing to add for it.
CREATE TABLE channels (
    chat_ref    INTEGER PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
    -- as configured: '@ngo_krakow' or '-1001234567890'
    address     TEXT NOT NULL,
    checked_at  TEXT NOT NULL
);

CREATE TABLE channel_routes (
    chat_ref    INTEGER NOT NULL REFERENCES channels (chat_ref) ON DELETE CASCADE,
    topic       TEXT NOT NULL,
    PRIMARY KEY (chat_ref, topic)
) WITHOUT ROWID;
CREATE INDEX channel_routes_by_topic ON channel_routes (topic, chat_ref);

-- What an outbox row does: send a new message, or edit or delete the message its chat got
-- from the announcement's publication (a channel post corrected or cancelled).
ALTER TABLE outbox ADD COLUMN action TEXT NOT NULL DEFAULT 'send'
    CHECK (action IN ('send', 'edit', 'delete'));
-- The platform's id of the message sent (kept for channel posts only, to edit or delete them).
ALTER TABLE outbox ADD COLUMN platform_message_id TEXT;
