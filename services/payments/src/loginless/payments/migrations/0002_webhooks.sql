-- Provider webhooks already handled, by the provider's event id: a replayed delivery is answered without effect.
-- Written in the transaction of the effect. Plain rows, not a read model (a rebuild never touches them).
CREATE TABLE {schema}.webhook_events (
    provider    text        NOT NULL,
    event_id    text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);
-- Bank statements are matched to invoices by the RF creditor reference a transfer quotes.
CREATE INDEX invoices_by_creditor_reference ON {schema}.invoices (tenant_id, creditor_reference)
    WHERE creditor_reference IS NOT NULL;
