-- Read models of the documents service. Each aggregate's row carries the version of its event stream: handlers
-- append with that version as the expected one, so two writers on one aggregate cannot both win.

CREATE TABLE {schema}.accounts (
    account_id    text        PRIMARY KEY,
    tenant_id     text        NOT NULL,
    name          text        NOT NULL,
    email         text,
    kind          text        NOT NULL CHECK (kind IN ('client', 'guest')),
    portal_access text        NOT NULL CHECK (portal_access IN ('enabled', 'disabled', 'invited')),
    invited_at    timestamptz,
    created_at    timestamptz NOT NULL,
    version       integer     NOT NULL
);
CREATE INDEX accounts_by_tenant ON {schema}.accounts (tenant_id, created_at);

CREATE TABLE {schema}.folders (
    folder_id  text        PRIMARY KEY,
    tenant_id  text        NOT NULL,
    account_id text        NOT NULL REFERENCES {schema}.accounts,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL,
    version    integer     NOT NULL
);
CREATE INDEX folders_by_account ON {schema}.folders (account_id, created_at);

-- Documents staff uploaded and files guests uploaded, complete and verified in object storage.
CREATE TABLE {schema}.documents (
    document_id       text        PRIMARY KEY,
    tenant_id         text        NOT NULL,
    account_id        text        NOT NULL REFERENCES {schema}.accounts,
    folder_id         text        REFERENCES {schema}.folders,
    display_name      text        NOT NULL,
    size              bigint      NOT NULL,
    sha256            text        NOT NULL,
    content_type      text        NOT NULL,
    object_key        text        NOT NULL UNIQUE,
    source            text        NOT NULL CHECK (source IN ('staff', 'guest')),
    upload_request_id text,
    link_id           text,
    uploader_name     text,
    uploader_email    text,
    created_at        timestamptz NOT NULL,
    version           integer     NOT NULL
);
CREATE INDEX documents_by_account ON {schema}.documents (tenant_id, account_id, created_at);
CREATE INDEX documents_by_upload_request ON {schema}.documents (upload_request_id) WHERE upload_request_id IS NOT NULL;
CREATE INDEX documents_by_link ON {schema}.documents (link_id) WHERE link_id IS NOT NULL;

CREATE TABLE {schema}.shares (
    share_id    text        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    document_id text        NOT NULL REFERENCES {schema}.documents,
    view_only   boolean     NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL,
    version     integer     NOT NULL
);
CREATE INDEX shares_by_document ON {schema}.shares (document_id);

CREATE TABLE {schema}.upload_requests (
    upload_request_id text        PRIMARY KEY,
    tenant_id         text        NOT NULL,
    account_id        text        NOT NULL REFERENCES {schema}.accounts,
    folder_id         text        NOT NULL REFERENCES {schema}.folders,
    max_file_size     bigint      NOT NULL,
    allowed_types     text[]      NOT NULL,
    max_files         integer     NOT NULL,
    deadline          timestamptz NOT NULL,
    revoked_at        timestamptz,
    created_at        timestamptz NOT NULL,
    version           integer     NOT NULL
);

-- One link per recipient of a share or an upload request. Never the URL: it carries the token.
CREATE TABLE {schema}.recipient_links (
    link_id     text PRIMARY KEY,
    tenant_id   text NOT NULL,
    resource_id text NOT NULL,  -- a share_id or an upload_request_id
    email       text NOT NULL,
    name        text,
    revoked_at  timestamptz
);
CREATE INDEX recipient_links_by_resource ON {schema}.recipient_links (resource_id);

-- Resumable (tus) uploads in progress: an S3 multipart upload plus what has been received so far.
CREATE TABLE {schema}.tus_uploads (
    upload_id         text        PRIMARY KEY,
    tenant_id         text        NOT NULL,
    upload_request_id text        NOT NULL REFERENCES {schema}.upload_requests,
    link_id           text        NOT NULL,
    file_id           text        NOT NULL UNIQUE,
    object_key        text        NOT NULL,
    s3_upload_id      text        NOT NULL,
    length            bigint      NOT NULL CHECK (length > 0),
    received          bigint      NOT NULL DEFAULT 0,
    parts             jsonb       NOT NULL DEFAULT '[]',  -- [{"number", "etag", "size"}] in order
    tail_size         integer     NOT NULL DEFAULT 0,     -- bytes held in the "<key>.tail" object, not yet a part
    display_name      text        NOT NULL,
    content_type      text,                               -- sniffed from the first bytes
    uploader_name     text,
    uploader_email    text,
    lease_owner       text,
    lease_until       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tus_uploads_by_link ON {schema}.tus_uploads (link_id);
CREATE INDEX tus_uploads_by_age ON {schema}.tus_uploads (updated_at);

-- Guests' views and downloads. Personal data (IP, user agent): purged after the configured retention, together
-- with the events that carried it (each access is a stream of its own so it can go whole).
CREATE TABLE {schema}.access_records (
    access_id   text        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    document_id text        NOT NULL,
    share_id    text        NOT NULL,
    link_id     text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('view', 'download')),
    client_ip   text,
    user_agent  text,
    at          timestamptz NOT NULL
);
CREATE INDEX access_records_by_time ON {schema}.access_records (at);
CREATE INDEX access_records_by_share ON {schema}.access_records (share_id, at);

-- Idempotency-Key: the first answer to a creating POST, replayed for a retry with the same key.
CREATE TABLE {schema}.idempotency_keys (
    tenant_id   text        NOT NULL,
    key         text        NOT NULL,
    operation   text        NOT NULL,
    fingerprint text        NOT NULL,
    status_code integer,
    body        jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, operation, key)
);
