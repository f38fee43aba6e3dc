-- What the worker's sweep needs to find payments whose provider never reported back: who the provider is, since
-- when the payment is processing, the provider's id of the page the guest was handed to, and whether a report was
-- flagged (then staff look into it, not the sweep). A projection of the invoice events, like the rest.
ALTER TABLE {schema}.invoice_payments
    ADD COLUMN provider text,
    ADD COLUMN started_at timestamptz,
    ADD COLUMN provider_reference text,
    ADD COLUMN flagged boolean NOT NULL DEFAULT false;
CREATE INDEX invoice_payments_processing ON {schema}.invoice_payments (provider, started_at)
    WHERE status = 'processing';
