-- Liveness of the running bot's chat networks, next to its heartbeat: per transport what it
-- does to receive (a Telegram 'poll', a Matrix 'sync', a Telegram 'webhook check') and when it
-- last completed one (NULL: not yet). Rewritten when `ngo-bot run` starts; read by
-- `ngo-bot health`. Operational data: nothing about any person.
CREATE TABLE transport_progress (
    platform      TEXT PRIMARY KEY,
    activity      TEXT NOT NULL,
    completed_at  TEXT
);
