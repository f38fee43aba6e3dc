-- A tenant's own seal (PKCS#12 and its password), encrypted with SIGNING_DATA_KEY (AES-GCM, the tenant id as
-- associated data). Plain rows, not a read model: the secret is never in an event; SealChanged records the change.
CREATE TABLE {schema}.tenant_seals (
    tenant_id   text        PRIMARY KEY,
    sealed      bytea       NOT NULL,
    subject     text        NOT NULL,
    not_after   timestamptz NOT NULL,
    fingerprint text        NOT NULL,
    saved_at    timestamptz NOT NULL DEFAULT now()
);
