-- One-time facts about this installation, claimed atomically (first-start bootstrap when several nodes
-- start together on a fresh database).
CREATE TABLE instance_state (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
