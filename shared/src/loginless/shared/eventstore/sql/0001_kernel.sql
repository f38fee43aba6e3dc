-- The event-sourcing kernel of one service: its event store, its transactional outbox and its consumers' inbox.
-- {schema} is replaced by the service's schema name (quoted).

CREATE TABLE {schema}.events (
    stream_id      text        NOT NULL,
    version        integer     NOT NULL CHECK (version > 0),
    event_id       uuid        NOT NULL,  -- a UUIDv4 made by the writer; consumers dedupe on it
    type           text        NOT NULL,
    data           jsonb       NOT NULL,
    tenant_id      text        NOT NULL,
    correlation_id text        NOT NULL,
    causation_id   text,
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The writing transaction: per stream it must grow with the version (checked on append), which is what
    -- lets the relay order by transaction id and still keep each stream's events in version order.
    transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
    -- Optimistic concurrency: two writers at the same expected version collide on this key.
    PRIMARY KEY (stream_id, version)
);

CREATE TABLE {schema}.outbox (
    id             bigserial   PRIMARY KEY,
    transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id       uuid        NOT NULL,
    topic          text        NOT NULL,
    message_key    bytea       NOT NULL,
    message_value  bytea       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at   timestamptz
);

-- The relay's work queue: unpublished rows in (transaction, id) order.
CREATE INDEX outbox_unpublished ON {schema}.outbox (transaction_id, id) WHERE published_at IS NULL;

CREATE TABLE {schema}.inbox (
    consumer    text        NOT NULL,
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (consumer, event_id)
);

-- One round trip per append: check the expected version, insert the events and their outbox messages.
-- Runs in the caller's transaction when there is one, or as a transaction of its own.
CREATE FUNCTION {schema}.append_events(
    p_stream_id        text,
    p_expected_version integer,
    p_event_ids        uuid[],
    p_types            text[],
    p_data             jsonb[],
    p_messages         bytea[],
    p_tenant_id        text,
    p_correlation_id   text,
    p_causation_id     text,
    p_recorded_at      timestamptz,
    p_topic            text
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    current_version      integer;
    previous_transaction xid8;
BEGIN
    SELECT version, transaction_id INTO current_version, previous_transaction
    FROM {schema}.events WHERE stream_id = p_stream_id ORDER BY version DESC LIMIT 1;
    current_version := coalesce(current_version, 0);
    IF current_version <> p_expected_version THEN
        RAISE EXCEPTION 'stream is at version %, not %', current_version, p_expected_version
            USING ERRCODE = 'LL409', DETAIL = 'version';
    END IF;
    -- The relay orders by transaction id, so ours must not be older than the stream's last writer's.
    -- It can only be if this transaction wrote something before reading the stream; a retry fixes it.
    IF previous_transaction IS NOT NULL AND previous_transaction > pg_current_xact_id() THEN
        RAISE EXCEPTION 'stream advanced by a concurrent transaction' USING ERRCODE = 'LL409',
            DETAIL = 'transaction-order';
    END IF;
    INSERT INTO {schema}.events
        (stream_id, version, event_id, type, data, tenant_id, correlation_id, causation_id, recorded_at)
    SELECT p_stream_id, p_expected_version + e.ordinality, e.event_id, e.type, e.data,
           p_tenant_id, p_correlation_id, p_causation_id, p_recorded_at
    FROM unnest(p_event_ids, p_types, p_data) WITH ORDINALITY AS e(event_id, type, data, ordinality);
    INSERT INTO {schema}.outbox (event_id, topic, message_key, message_value)
    SELECT m.event_id, p_topic, convert_to(p_stream_id, 'UTF8'), m.message
    FROM unnest(p_event_ids, p_messages) AS m(event_id, message);
    RETURN p_expected_version + cardinality(p_event_ids);
END
$$;
