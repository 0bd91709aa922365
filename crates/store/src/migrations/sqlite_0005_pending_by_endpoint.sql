-- Claims ask, per endpoint with room, for its oldest due pending deliveries. Without this index the claim
-- scanned every due row in time order and skipped those of busy endpoints: with a large backlog for busy
-- endpoints, one claim read all of it (about 200 ms per claim with 1,000,000 waiting).
CREATE INDEX deliveries_pending_by_endpoint ON deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
