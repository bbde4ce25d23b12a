-- The web viewer's browser sessions (issue 14): only the SHA-256 of each cookie's token is kept.
CREATE TABLE viewer_sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX viewer_sessions_user ON viewer_sessions(user_id);
CREATE INDEX viewer_sessions_expiry ON viewer_sessions(expires_at);
-- The viewer's grid filters units by class and counts objects per class: a covering index answers
-- both from the index alone, without reading the table.
CREATE INDEX objects_row_class ON objects(label_row_id, feature_hash, confidence);
