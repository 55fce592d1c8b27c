-- Transport state: small per-platform values a transport keeps across restarts (Matrix: the
-- sync token, device id and access token; which rooms were told that encryption is unsupported).
CREATE TABLE transport_state (
    platform    TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (platform, key)
) WITHOUT ROWID;
