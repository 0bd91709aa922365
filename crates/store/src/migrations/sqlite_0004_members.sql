-- Dashboard members (email + argon2 password, a role in one workspace) and their sign-in sessions.
-- A session row is keyed by the SHA-256 of its cookie value; the cookie itself is never stored.
CREATE TABLE members (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id),
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner','admin','member','viewer')),
    password_hash  TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    disabled_at    INTEGER
);

CREATE TABLE sessions (
    id_hash        TEXT PRIMARY KEY,
    member_id      TEXT NOT NULL REFERENCES members(id),
    csrf_token     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);
CREATE INDEX sessions_by_member ON sessions (member_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
