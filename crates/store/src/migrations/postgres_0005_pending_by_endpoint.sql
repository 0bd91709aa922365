-- When busy endpoints' backlog fills the window of oldest due rows a claim looks at, the claim asks each
-- endpoint with room for its own oldest due deliveries: one range of this index each. Before, a claim
-- scanned every due row in time order skipping busy endpoints' rows (about 200 ms with 1,000,000 waiting).
CREATE INDEX deliveries_pending_by_endpoint ON deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
