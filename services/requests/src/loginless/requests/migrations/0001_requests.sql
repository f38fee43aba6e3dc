-- Read models: projections of the service's own events (python -m loginless.requests projections rebuild).
CREATE TABLE {schema}.template_versions (
    template_id      text        NOT NULL,
    tenant_id        text        NOT NULL,
    template_version integer     NOT NULL,
    title            text        NOT NULL,
    definition       jsonb       NOT NULL,
    saved_at         timestamptz NOT NULL,
    PRIMARY KEY (template_id, template_version)
);
CREATE INDEX template_versions_by_tenant ON {schema}.template_versions (tenant_id, template_id);

CREATE TABLE {schema}.client_requests (
    client_request_id text        PRIMARY KEY,
    tenant_id         text        NOT NULL,
    account_id        text,
    title             text        NOT NULL,
    template_id       text        NOT NULL,
    template_version  integer     NOT NULL,
    require_login     boolean     NOT NULL,
    message           text,
    due_at            timestamptz,
    sent_at           timestamptz NOT NULL,
    cancelled_at      timestamptz,
    cancel_reason     text
);
CREATE INDEX client_requests_by_tenant ON {schema}.client_requests (tenant_id, client_request_id);
CREATE INDEX client_requests_by_template ON {schema}.client_requests (tenant_id, template_id);

CREATE TABLE {schema}.request_recipients (
    client_request_id text        NOT NULL,
    recipient_id      text        NOT NULL,
    tenant_id         text        NOT NULL,
    position          integer     NOT NULL,
    name              text,
    email             text,
    phone             text,
    language          text,
    contact_id        text,
    link_id           text,
    opened_at         timestamptz,
    submitted_at      timestamptz,
    sent_back_at      timestamptz,
    comments          jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (client_request_id, recipient_id)
);
CREATE UNIQUE INDEX request_recipients_by_link ON {schema}.request_recipients (link_id) WHERE link_id IS NOT NULL;

CREATE TABLE {schema}.contacts (
    contact_id  text        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    account_id  text        NOT NULL,
    name        text,
    email       text        NOT NULL,
    phone       text,
    language    text,
    role        text,
    added_at    timestamptz NOT NULL
);
CREATE INDEX contacts_by_account ON {schema}.contacts (tenant_id, account_id, contact_id);

-- Plain tables, never touched by a rebuild.

-- What recipients typed so far: one row per answer, versioned per question (docs/requests.md: why not events).
CREATE TABLE {schema}.drafts (
    client_request_id text        NOT NULL,
    recipient_id      text        NOT NULL,
    question_id       text        NOT NULL,
    tenant_id         text        NOT NULL,
    value             jsonb       NOT NULL,
    version           integer     NOT NULL,
    saved_at          timestamptz NOT NULL,
    PRIMARY KEY (client_request_id, recipient_id, question_id)
);
CREATE INDEX drafts_by_age ON {schema}.drafts (saved_at);

-- The answers each recipient submitted last (an event carries them too, unless they are large).
CREATE TABLE {schema}.submissions (
    client_request_id text        NOT NULL,
    recipient_id      text        NOT NULL,
    tenant_id         text        NOT NULL,
    answers           jsonb       NOT NULL,
    submitted_at      timestamptz NOT NULL,
    PRIMARY KEY (client_request_id, recipient_id)
);

-- Files guests uploaded, staged in the service's bucket until submission files them with documents.
CREATE TABLE {schema}.staged_files (
    file_id           text        PRIMARY KEY,
    tenant_id         text        NOT NULL,
    client_request_id text        NOT NULL,
    recipient_id      text        NOT NULL,
    question_id       text        NOT NULL,
    object_key        text        NOT NULL,
    file_name         text        NOT NULL,
    content_type      text        NOT NULL,
    size              bigint      NOT NULL,
    sha256            text        NOT NULL,
    scan              text        NOT NULL CHECK (scan IN ('clean', 'infected')),
    staged_at         timestamptz NOT NULL,
    submitted         boolean     NOT NULL DEFAULT false,
    document_id       text  -- once filed into the client's account at documents
);
CREATE INDEX staged_files_by_recipient ON {schema}.staged_files (client_request_id, recipient_id);
