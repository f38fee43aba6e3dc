-- The tenant's preferences and the links whose action is awaited: projections of notifications' own events.
CREATE TABLE {schema}.preferences (
    tenant_id      text        PRIMARY KEY,
    owner_addresses text[]     NOT NULL,
    owner_alerts   text        NOT NULL,
    digest_hour    integer     NOT NULL,
    timezone       text        NOT NULL,
    language       text        NOT NULL,
    reminders      jsonb       NOT NULL,
    changed_at     timestamptz NOT NULL
);

-- Addresses that alerts skip: unsubscribed (for good) or bounced (until staff save the settings again).
CREATE TABLE {schema}.suppressed_addresses (
    tenant_id  text        NOT NULL,
    address    text        NOT NULL,  -- lower case
    reason     text        NOT NULL CHECK (reason IN ('unsubscribed', 'bounced')),
    since      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, address)
);

CREATE TABLE {schema}.pending_actions (
    link_id        text        PRIMARY KEY,
    tenant_id      text        NOT NULL,
    action         text,
    resource_id    text        NOT NULL DEFAULT '',
    issued_at      timestamptz,
    expires_at     timestamptz,
    reminders_sent integer     NOT NULL DEFAULT 0,
    last_reminder_at timestamptz,
    expiry_warning_sent boolean NOT NULL DEFAULT false,
    stopped        text,
    next_reminder_at timestamptz  -- on the tenant's schedule; NULL when none will come
);
CREATE INDEX pending_actions_due ON {schema}.pending_actions (next_reminder_at) WHERE next_reminder_at IS NOT NULL;
CREATE INDEX pending_actions_by_tenant ON {schema}.pending_actions (tenant_id) WHERE stopped IS NULL;
CREATE INDEX pending_actions_by_resource ON {schema}.pending_actions (resource_id) WHERE stopped IS NULL;

-- What other services told us that a message needs later (names, recipients): plain rows, kept from their events.
CREATE TABLE {schema}.known_links (
    link_id        text        PRIMARY KEY,
    tenant_id      text        NOT NULL,
    action         text        NOT NULL,
    resource_id    text        NOT NULL,
    recipient_name text,
    recipient_email text,
    recipient_language text,
    expires_at     timestamptz NOT NULL,
    max_uses       integer,
    delivery       text        NOT NULL
);
CREATE INDEX known_links_by_expiry ON {schema}.known_links (expires_at);

CREATE TABLE {schema}.known_documents (
    document_id  text        PRIMARY KEY,
    tenant_id    text        NOT NULL,
    display_name text        NOT NULL,
    added_at     timestamptz NOT NULL
);

-- What will go into a mail: one row per fact, gathered by batch (one receipt per link and uploader, one alert per
-- event, one digest per owner and day). A batch becomes one mail once its last row is due.
CREATE TABLE {schema}.mail_items (
    id          bigserial   PRIMARY KEY,
    batch_key   text        NOT NULL,
    tenant_id   text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('owner_alert', 'owner_digest', 'upload_receipt', 'request_receipt')),
    recipient   text        NOT NULL,
    language    text        NOT NULL,
    item        jsonb       NOT NULL,
    due_at      timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_items_by_batch ON {schema}.mail_items (batch_key, due_at);

-- Mails composed and waiting to be sent. The Message-ID is fixed when the mail is composed, so every attempt
-- sends the same message. A claim is a lease: a worker that dies mid-send leaves the row to be taken again later.
CREATE TABLE {schema}.outgoing_mail (
    notification_id text        PRIMARY KEY,
    tenant_id       text        NOT NULL,
    kind            text        NOT NULL,
    recipient       text        NOT NULL,
    message_id      text        NOT NULL,
    message         bytea       NOT NULL,  -- the whole RFC 5322 message
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outgoing_mail_due ON {schema}.outgoing_mail (next_attempt_at);
