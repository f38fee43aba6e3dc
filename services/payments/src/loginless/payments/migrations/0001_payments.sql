-- The payments service's read model: one row per invoice and one per payment, for staff listings and filters.
-- Everything here is a projection of the invoice events (a rebuild reproduces it); an invoice's detail is read
-- from its stream. An invoice number is unique within a tenant: the index refuses a second one in the very
-- transaction that would record it.
CREATE TABLE {schema}.invoices (
    invoice_id       text        PRIMARY KEY,
    tenant_id        text        NOT NULL,
    account_id       text        NOT NULL,
    number           text        NOT NULL,
    currency         text        NOT NULL,
    status           text        NOT NULL,
    total_minor      bigint      NOT NULL,
    credited_minor   bigint      NOT NULL DEFAULT 0,
    paid_minor       bigint      NOT NULL DEFAULT 0,
    processing_minor bigint      NOT NULL DEFAULT 0,
    issue_date       date        NOT NULL,
    due_date         date        NOT NULL,
    created_at       timestamptz NOT NULL,
    issued_at        timestamptz,
    creditor_reference text,
    paid_at          timestamptz
);
CREATE UNIQUE INDEX invoices_number ON {schema}.invoices (tenant_id, number);
CREATE INDEX invoices_by_tenant ON {schema}.invoices (tenant_id, created_at DESC, invoice_id);
CREATE TABLE {schema}.invoice_payments (
    payment_id     text        PRIMARY KEY,
    invoice_id     text        NOT NULL,
    amount_minor   bigint      NOT NULL,
    refunded_minor bigint      NOT NULL DEFAULT 0,
    status         text        NOT NULL
);
CREATE INDEX invoice_payments_by_invoice ON {schema}.invoice_payments (invoice_id);
