-- The read models become projections of the events (projections.py): every row is made from an event, so
-- `python -m loginless.documents projections rebuild` reproduces them. They are recreated empty here, without
-- foreign keys (a rebuild empties them together; the domain, not the schema, keeps them consistent); run the
-- rebuild once after this migration to fill them from the event store.
-- Shares and upload requests are recorded before their links are issued (status 'pending'); the links' issuing,
-- and revoking at the links service, are jobs in plain tables the worker works through.

DROP TABLE {schema}.accounts, {schema}.folders, {schema}.documents, {schema}.shares, {schema}.upload_requests,
    {schema}.recipient_links, {schema}.access_records CASCADE;
DROP TABLE {schema}.idempotency_keys;  -- the kernel's idempotent_answers replaces it

CREATE TABLE {schema}.accounts (
    account_id    text        PRIMARY KEY,
    tenant_id     text        NOT NULL,
    name          text        NOT NULL,
    email         text,
    kind          text        NOT NULL,
    portal_access text        NOT NULL,
    invited_at    timestamptz,
    created_at    timestamptz NOT NULL,
    version       integer     NOT NULL
);
CREATE INDEX accounts_by_tenant ON {schema}.accounts (tenant_id, account_id);

CREATE TABLE {schema}.folders (
    folder_id  text        PRIMARY KEY,
    tenant_id  text        NOT NULL,
    account_id text        NOT NULL,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL,
    version    integer     NOT NULL
);
CREATE INDEX folders_by_account ON {schema}.folders (account_id, created_at);

-- Documents staff added and files guests uploaded, complete and verified in object storage.
CREATE TABLE {schema}.documents (
    document_id       text        PRIMARY KEY,
    tenant_id         text        NOT NULL,
    account_id        text        NOT NULL,
    folder_id         text,
    display_name      text        NOT NULL,
    size              bigint      NOT NULL,
    sha256            text        NOT NULL,
    content_type      text        NOT NULL,
    object_key        text        NOT NULL,
    source            text        NOT NULL,  -- 'staff' (DocumentAdded) or 'guest' (FileUploaded)
    upload_request_id text,
    link_id           text,
    uploader_name     text,
    uploader_email    text,
    created_at        timestamptz NOT NULL,
    version           integer     NOT NULL
);
CREATE INDEX documents_by_tenant ON {schema}.documents (tenant_id, document_id);
CREATE INDEX documents_by_upload_request ON {schema}.documents (upload_request_id) WHERE upload_request_id IS NOT NULL;
CREATE INDEX documents_by_link ON {schema}.documents (link_id) WHERE link_id IS NOT NULL;

CREATE TABLE {schema}.shares (
    share_id    text        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    document_id text        NOT NULL,
    view_only   boolean     NOT NULL,
    expires_at  timestamptz NOT NULL,
    status      text        NOT NULL,  -- pending (links being issued), active, failed, revoked
    failure     text,
    recipients  jsonb       NOT NULL,  -- [{"email", "name", "language"}] as asked
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    version     integer     NOT NULL
);
CREATE INDEX shares_by_document ON {schema}.shares (document_id);

CREATE TABLE {schema}.upload_requests (
    upload_request_id text        PRIMARY KEY,
    tenant_id         text        NOT NULL,
    account_id        text        NOT NULL,
    folder_id         text        NOT NULL,
    max_file_size     bigint      NOT NULL,
    allowed_types     text[]      NOT NULL,
    max_files         integer     NOT NULL,
    deadline          timestamptz NOT NULL,
    status            text        NOT NULL,
    failure           text,
    recipients        jsonb       NOT NULL,
    created_at        timestamptz NOT NULL,
    revoked_at        timestamptz,
    version           integer     NOT NULL
);

-- One link per recipient of a share or an upload request, once issued. Never the URL: it carries the token.
CREATE TABLE {schema}.recipient_links (
    link_id     text        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    resource_id text        NOT NULL,  -- a share_id or an upload_request_id
    email       text        NOT NULL,
    name        text,
    status      text        NOT NULL,  -- active, revoked, expired
    issued_at   timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX recipient_links_by_resource ON {schema}.recipient_links (resource_id);

-- Guests' views and downloads. Personal data (IP, user agent): each access is a stream of its own, forgotten whole
-- (events, outbox messages and this row) after the configured retention.
CREATE TABLE {schema}.access_records (
    access_id   text        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    document_id text        NOT NULL,
    share_id    text        NOT NULL,
    link_id     text        NOT NULL,
    kind        text        NOT NULL,
    client_ip   text,
    user_agent  text,
    at          timestamptz NOT NULL
);
CREATE INDEX access_records_by_time ON {schema}.access_records (at);
CREATE INDEX access_records_by_share ON {schema}.access_records (share_id, at);

-- Jobs: the links of a pending share or upload request still to be issued (given up at the deadline), and links to
-- revoke at the links service. Claimed with a lease (next_attempt_at moves ahead), so any number of workers share
-- them and a worker that dies leaves its claim for another.
CREATE TABLE {schema}.link_issuing_jobs (
    resource_id     text        PRIMARY KEY,
    tenant_id       text        NOT NULL,
    deadline        timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);
CREATE INDEX link_issuing_jobs_due ON {schema}.link_issuing_jobs (next_attempt_at);

CREATE TABLE {schema}.link_revoking_jobs (
    link_id         text        PRIMARY KEY,
    tenant_id       text        NOT NULL,
    resource_id     text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);
CREATE INDEX link_revoking_jobs_due ON {schema}.link_revoking_jobs (next_attempt_at);
