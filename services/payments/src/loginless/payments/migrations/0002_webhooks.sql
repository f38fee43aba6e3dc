-- Provider webhooks already handled, by the provider's event id: a replayed delivery is answered without effect.
-- Written in the transaction of the effect. Plain rows, not a read model (a rebuild never touches them).
CREATE TABLE {schema}.webhook_events (
    provider    text        NOT NULL,
    event_id    text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);
