-- The links service's own tables beside the kernel's event store. {schema} is its schema (quoted).

CREATE TABLE {schema}.tenants (
    tenant_id     text        PRIMARY KEY,
    name          text        NOT NULL,
    logo_url      text,
    color         text,
    contact_name  text,
    contact_email text,
    contact_phone text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Staff API keys, ll_<key_id>_<secret>: only the SHA-256 of the whole key is kept.
CREATE TABLE {schema}.api_keys (
    key_id     text        PRIMARY KEY,
    tenant_id  text        NOT NULL REFERENCES {schema}.tenants,
    key_hash   bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX api_keys_by_tenant ON {schema}.api_keys (tenant_id);

-- Read model: each link's state after its latest event, written in the transaction that appended it.
CREATE TABLE {schema}.links (
    link_id                text        PRIMARY KEY,
    tenant_id              text        NOT NULL,
    action                 text        NOT NULL,
    resource_id            text        NOT NULL,
    recipient_name         text,
    recipient_email        text,
    recipient_phone        text,
    recipient_language     text        NOT NULL,
    issued_at              timestamptz NOT NULL,
    expires_at             timestamptz NOT NULL,
    max_uses               integer,
    uses                   integer     NOT NULL,
    opens                  integer     NOT NULL,
    last_opened_at         timestamptz,
    last_used_at           timestamptz,
    revoked_at             timestamptz,
    verification           text        NOT NULL,
    verification_locked_at timestamptz,
    delivery               text        NOT NULL,
    delivery_status        text        NOT NULL,
    version                integer     NOT NULL
);
CREATE INDEX links_by_resource ON {schema}.links (tenant_id, resource_id, issued_at DESC);

-- How a token finds its link: HMAC-SHA256 of the token under the named pepper. Never the token itself.
CREATE TABLE {schema}.link_tokens (
    token_hash bytea PRIMARY KEY,
    pepper_id  text  NOT NULL,
    link_id    text  NOT NULL UNIQUE REFERENCES {schema}.links
);

-- Recipient verification: the current one-time code's HMAC (none before the first code was sent) and the wrong
-- codes presented so far.
CREATE TABLE {schema}.link_verifications (
    link_id         text        PRIMARY KEY REFERENCES {schema}.links,
    code_hash       bytea,
    pepper_id       text,
    code_issued_at  timestamptz,
    code_expires_at timestamptz,
    failed_attempts integer     NOT NULL DEFAULT 0
);

-- Messages waiting to be sent by the worker. The token or code is AES-GCM encrypted, and the row is deleted
-- (so the secret erased) as soon as the message is sent or given up.
CREATE TABLE {schema}.pending_deliveries (
    id              bigserial   PRIMARY KEY,
    link_id         text        NOT NULL REFERENCES {schema}.links,
    purpose         text        NOT NULL CHECK (purpose IN ('link', 'code')),
    channel         text        NOT NULL CHECK (channel IN ('email', 'sms')),
    secret          bytea       NOT NULL,
    send_before     timestamptz NOT NULL,  -- the link's or the code's expiry: sending later is pointless
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_deliveries_due ON {schema}.pending_deliveries (next_attempt_at);

-- Responses of POST /v1/links by Idempotency-Key, for 24 hours. They hold tokens, so only encrypted.
CREATE TABLE {schema}.idempotent_requests (
    tenant_id       text        NOT NULL,
    idempotency_key text        NOT NULL,
    fingerprint     bytea       NOT NULL,  -- SHA-256 of the request body, canonical JSON
    response        bytea,                 -- written by the transaction that claimed the key
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key)
);
CREATE INDEX idempotent_requests_by_age ON {schema}.idempotent_requests (created_at);

-- Where each open and use came from; kept for LINKS_ACCESS_RECORD_RETENTION_DAYS.
CREATE TABLE {schema}.link_accesses (
    id         bigserial   PRIMARY KEY,
    link_id    text        NOT NULL REFERENCES {schema}.links,
    kind       text        NOT NULL CHECK (kind IN ('opened', 'used')),
    at         timestamptz NOT NULL,
    client_ip  text,
    user_agent text
);
CREATE INDEX link_accesses_by_link ON {schema}.link_accesses (link_id, at);
CREATE INDEX link_accesses_by_age ON {schema}.link_accesses (at);
