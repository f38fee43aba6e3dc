-- Pay to unlock: a share locked until an invoice is paid (ShareLocked / ShareUnlocked, projected onto the share),
-- and what documents has seen of each invoice on payments.events.
ALTER TABLE {schema}.shares
    ADD COLUMN lock_invoice_id text,         -- the invoice whose payment unlocks the share; NULL: no lock
    ADD COLUMN lock_status     text,         -- locked, unlocked (the invoice is paid)
    ADD COLUMN lock_changed_at timestamptz;
CREATE INDEX shares_by_lock_invoice ON {schema}.shares (tenant_id, lock_invoice_id)
    WHERE lock_invoice_id IS NOT NULL;

-- A replica of the payments service's facts about invoices, written by the consumer of payments.events in the
-- transaction of its inbox: not documents' own events, so `projections rebuild` leaves it alone (replaying the
-- topic from the start, under a new consumer group, would rebuild it).
CREATE TABLE {schema}.invoice_standing (
    tenant_id    text        NOT NULL,
    invoice_id   text        NOT NULL,
    number       text,
    paid         boolean     NOT NULL,
    margin_minor bigint      NOT NULL,  -- received beyond what is payable, less reversals seen since
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, invoice_id)
);
