-- Durable jobs: work a service must do after a commit, at another service or a slow dependency (issue a link,
-- seal a PDF, file a document), queued in the same transaction as the event that calls for it and retried by
-- the worker until done or past its deadline. A claim is a lease: a worker that dies gives the job back when the
-- lease runs out. {schema} is the service's schema.
CREATE TABLE {schema}.jobs (
    kind            text        NOT NULL,
    key             text        NOT NULL,  -- what the job is about; queuing it again while pending changes nothing
    tenant_id       text        NOT NULL,
    payload         jsonb       NOT NULL DEFAULT '{}',
    deadline        timestamptz,            -- past it, the job is given up (its owner decides what that means)
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);
CREATE INDEX jobs_due ON {schema}.jobs (kind, next_attempt_at);
