-- Webhook endpoints (also REST-hook subscriptions and Generic HTTP destinations), their subscriptions,
-- deliveries (one per event and endpoint) and attempts (the history).

CREATE TABLE endpoints (
    id                   TEXT PRIMARY KEY,
    workspace_id         TEXT NOT NULL REFERENCES workspaces(id),
    kind                 TEXT NOT NULL CHECK (kind IN ('webhook','rest_hook','generic_http')),
    name                 TEXT NOT NULL,
    url                  TEXT NOT NULL,
    enabled              BIGINT NOT NULL,
    disabled_reason      TEXT,
    secret_ciphertext    TEXT NOT NULL,
    -- Earlier secrets still accepted during a rotation overlap: JSON [{"ciphertext":..,"expires_at":ms}].
    previous_secrets     TEXT NOT NULL DEFAULT '[]',
    -- Generic HTTP: method, encrypted headers, payload template, bot exclusion. JSON, NULL for webhooks.
    options              TEXT,
    installation_id      TEXT,
    max_concurrency      BIGINT NOT NULL DEFAULT 8,
    rate_limit_per_sec   BIGINT,
    failing_since        BIGINT,
    dead_letters_since_success BIGINT NOT NULL DEFAULT 0,
    last_success_at      BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX endpoints_by_workspace ON endpoints (workspace_id, id);

CREATE TABLE endpoint_subscriptions (
    endpoint_id   TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_type)
);
CREATE INDEX subscriptions_by_type ON endpoint_subscriptions (workspace_id, event_type);

CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    event_id         TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    workspace_id     TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    reason           TEXT NOT NULL CHECK (reason IN ('live','test','replay')),
    status           TEXT NOT NULL CHECK (status IN ('pending','delivering','delivered','dead_letter','paused')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    locked_until     BIGINT,
    last_status_code BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    finished_at      BIGINT
);
-- The dispatcher's claim scans due pending rows in time order.
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, id);
CREATE INDEX deliveries_by_event ON deliveries (event_id);

CREATE TABLE attempts (
    delivery_id      TEXT NOT NULL,
    attempt          BIGINT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    started_at       BIGINT NOT NULL,
    latency_ms       BIGINT NOT NULL,
    status_code      BIGINT,
    error_class      TEXT,
    response_snippet TEXT,
    outcome          TEXT NOT NULL CHECK (outcome IN ('delivered','retry','dead_letter','unsubscribed')),
    next_attempt_at  BIGINT,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX attempts_by_endpoint_time ON attempts (endpoint_id, started_at);
