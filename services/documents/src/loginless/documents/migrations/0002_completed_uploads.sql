-- Resumable uploads that completed, kept for a while after their tus_uploads row is gone: a client that lost the
-- last answer (a reload, a dropped connection) asks again with HEAD and must hear "complete", not 404, or it would
-- start the same file over as a new upload.
CREATE TABLE {schema}.completed_uploads (
    upload_id    text        PRIMARY KEY,
    tenant_id    text        NOT NULL,
    link_id      text        NOT NULL,
    file_id      text        NOT NULL,
    length       bigint      NOT NULL,
    completed_at timestamptz NOT NULL
);
CREATE INDEX completed_uploads_by_age ON {schema}.completed_uploads (completed_at);
