-- Foundation: tenancy, credentials, domains, links, the event outbox and clicks.
-- Timestamps are Unix milliseconds (INTEGER); ids are UUID text; flags are 0/1 INTEGER.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    plan        TEXT NOT NULL CHECK (plan IN ('starter','plus','growth','professional','enterprise')),
    created_at  INTEGER NOT NULL
);

CREATE TABLE workspaces (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    name             TEXT NOT NULL,
    created_at       INTEGER NOT NULL
);

CREATE TABLE credentials (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    kind          TEXT NOT NULL CHECK (kind IN ('api_key','installation')),
    name          TEXT NOT NULL,
    platform      TEXT CHECK (platform IS NULL OR platform IN ('zapier','make','n8n')),
    token_prefix  TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);
CREATE INDEX credentials_by_workspace ON credentials (workspace_id, kind, id);

CREATE TABLE domains (
    id                   TEXT PRIMARY KEY,
    workspace_id         TEXT REFERENCES workspaces(id),
    domain_name          TEXT NOT NULL UNIQUE,
    is_default           INTEGER NOT NULL DEFAULT 0,
    verification_status  TEXT NOT NULL CHECK (verification_status IN ('pending','verified','failed')),
    ready_for_traffic    INTEGER NOT NULL,
    domain_status        TEXT NOT NULL CHECK (domain_status IN ('pending','active','disabled')),
    verification_token   TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE links (
    id                    TEXT PRIMARY KEY,
    workspace_id          TEXT NOT NULL REFERENCES workspaces(id),
    domain_id             TEXT NOT NULL REFERENCES domains(id),
    short_code            TEXT NOT NULL,
    destination           TEXT NOT NULL,
    redirect_status_code  INTEGER NOT NULL CHECK (redirect_status_code IN (301, 302)),
    expires_at            INTEGER,
    password_hash         TEXT,
    tags                  TEXT NOT NULL DEFAULT '[]',
    utm                   TEXT NOT NULL DEFAULT '{}',
    status                TEXT NOT NULL CHECK (status IN ('active','disabled','deleted')),
    takedown_reason       TEXT,
    source                TEXT NOT NULL CHECK (source IN ('api','dashboard','import','system')),
    version               INTEGER NOT NULL DEFAULT 1,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
-- A deleted link frees its code.
CREATE UNIQUE INDEX links_code_per_domain ON links (domain_id, short_code) WHERE status <> 'deleted';
CREATE INDEX links_by_workspace ON links (workspace_id, id);

CREATE TABLE events (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL,
    workspace_id     TEXT NOT NULL,
    type             TEXT NOT NULL,
    link_id          TEXT,
    created_at       INTEGER NOT NULL,
    body             TEXT NOT NULL
);
CREATE INDEX events_by_workspace ON events (workspace_id, id);
CREATE INDEX events_by_type ON events (workspace_id, type, id);
CREATE INDEX events_by_link ON events (workspace_id, link_id, id);

CREATE TABLE clicks (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    link_id          TEXT NOT NULL,
    workspace_id     TEXT NOT NULL,
    clicked_at       INTEGER NOT NULL,
    touch_type       TEXT NOT NULL CHECK (touch_type IN ('short_link_click','qr_scan')),
    is_bot           INTEGER NOT NULL,
    country          TEXT,
    device_category  TEXT,
    browser_family   TEXT,
    os_family        TEXT,
    referrer_host    TEXT,
    social_source    TEXT,
    utm_source       TEXT,
    utm_medium       TEXT,
    utm_campaign     TEXT,
    utm_term         TEXT,
    utm_content      TEXT,
    visitor_hash     TEXT NOT NULL,
    event_id         TEXT
);
CREATE INDEX clicks_by_link ON clicks (link_id, clicked_at);
CREATE INDEX clicks_by_time ON clicks (workspace_id, clicked_at);
