-- The signing service's read model: one row per envelope, for staff listings and the worker's expiry sweep.
-- Everything here is a projection of the envelope events (a rebuild reproduces it); the envelope's detail is
-- read from its stream.
CREATE TABLE {schema}.envelopes (
    envelope_id  text        PRIMARY KEY,
    tenant_id    text        NOT NULL,
    title        text        NOT NULL,
    status       text        NOT NULL,
    signers      integer     NOT NULL,
    signed       integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    sent_at      timestamptz,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX envelopes_by_tenant ON {schema}.envelopes (tenant_id, created_at DESC, envelope_id);
CREATE INDEX envelopes_open_by_expiry ON {schema}.envelopes (expires_at) WHERE status IN ('draft', 'sent');
