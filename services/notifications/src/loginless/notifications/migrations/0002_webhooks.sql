-- Webhook endpoints: a projection of their events.
CREATE TABLE {schema}.webhook_endpoints (
    endpoint_id  text        PRIMARY KEY,
    tenant_id    text        NOT NULL,
    url          text        NOT NULL,
    event_types  text[]      NOT NULL,  -- empty: every type
    description  text,
    created_at   timestamptz NOT NULL,
    deleted_at   timestamptz
);
CREATE INDEX webhook_endpoints_by_tenant ON {schema}.webhook_endpoints (tenant_id) WHERE deleted_at IS NULL;

-- Signing secrets, AES-GCM encrypted (NOTIFICATIONS_WEBHOOK_DATA_KEY): the current one, and a rotated one until
-- it expires. Not domain facts: a rebuild never touches them, and no event holds them.
CREATE TABLE {schema}.webhook_secrets (
    id           bigserial   PRIMARY KEY,
    endpoint_id  text        NOT NULL,
    secret       bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz  -- NULL: the current secret
);
CREATE INDEX webhook_secrets_by_endpoint ON {schema}.webhook_secrets (endpoint_id);

-- One event for one endpoint, until it is delivered (then deleted) or given up (kept, for staff to redeliver).
CREATE TABLE {schema}.webhook_deliveries (
    id               bigserial   PRIMARY KEY,  -- the order events came in: per endpoint and subject, the send order
    delivery_id      text        NOT NULL UNIQUE,
    endpoint_id      text        NOT NULL,
    tenant_id        text        NOT NULL,
    subject          text        NOT NULL,
    event_id         text        NOT NULL,
    event_type       text        NOT NULL,
    body             bytea       NOT NULL,
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    first_attempt_at timestamptz,
    next_attempt_at  timestamptz NOT NULL,
    last_error       text,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON {schema}.webhook_deliveries (endpoint_id, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_subject ON {schema}.webhook_deliveries (endpoint_id, subject, id)
    WHERE status = 'pending';
