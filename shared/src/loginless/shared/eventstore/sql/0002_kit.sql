-- What every service gets besides its event store: the order a projection rebuild replays events in, request
-- idempotency, and the indexes that let retention prune the outbox and the inbox. {schema} is the service's schema.

-- The order events were appended in, across streams and within one transaction: a rebuild replays them by
-- (transaction_id, position), so a read model that joins streams sees them as the live projection did.
ALTER TABLE {schema}.events ADD COLUMN position bigint GENERATED ALWAYS AS IDENTITY;
CREATE INDEX events_in_append_order ON {schema}.events (transaction_id, position);

-- Retention: published outbox rows and processed inbox rows are pruned by age.
CREATE INDEX outbox_published ON {schema}.outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX outbox_by_stream ON {schema}.outbox (message_key);
CREATE INDEX inbox_by_age ON {schema}.inbox (received_at);

-- Idempotency-Key on creating POSTs. A request claims its key for a short lease, renewed while it works; the
-- answer is written when it succeeds. A claim whose process died runs out, so the caller's retry goes through.
-- Keys are forgotten after 24 hours, as Stripe does.
CREATE TABLE {schema}.idempotent_answers (
    tenant_id     text        NOT NULL,
    operation     text        NOT NULL,
    key           text        NOT NULL,
    fingerprint   bytea       NOT NULL,  -- SHA-256 of the request, canonical JSON
    claimed_by    uuid,                  -- the request working on it; NULL once answered
    claimed_until timestamptz,
    status_code   integer,
    body          bytea,                 -- the answer, sealed by the service when it holds secrets
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, operation, key)
);
CREATE INDEX idempotent_answers_by_age ON {schema}.idempotent_answers (created_at);
