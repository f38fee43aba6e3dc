-- How fresh the link_state read model is, per partition of links.events: when the worker consuming that partition
-- last heard from Kafka that nothing was left to apply there. The API reads the oldest of them before trusting the
-- read model that a link is still open; too old (a stalled worker, consumer or broker), it asks links instead.
-- A worker that stops sets its partitions to '-infinity', so its successor's first report, not a clock, ends the gap.

CREATE TABLE {schema}.link_state_freshness (
    partition    integer     PRIMARY KEY,
    caught_up_at timestamptz NOT NULL,
    reported_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
