-- The gateway's read model of link state, fed by links.events (and by the links service's answers for links the
-- consumer has not seen yet). Every guest request reads one row by primary key.
--
-- Rows are merged, never overwritten: descriptive facts are fixed when a link is issued (first known value wins),
-- uses only grow and a revocation or lock-out, once known, stays. So events and answers from links can arrive in
-- any order, or twice, and the row still converges on the truth.

CREATE TABLE {schema}.link_state (
    link_id                text        PRIMARY KEY,
    tenant_id              text        NOT NULL,
    -- NULL until the link's description is known (a revocation can be learnt before the issue itself).
    action                 text,
    resource_id            text,
    recipient_name         text,
    recipient_email        text,
    recipient_phone        text,
    recipient_language     text,
    expires_at             timestamptz,
    max_uses               integer,
    verification           text,
    uses                   integer     NOT NULL DEFAULT 0,
    revoked_at             timestamptz,
    verification_locked_at timestamptz,
    updated_at             timestamptz NOT NULL DEFAULT clock_timestamp()
);
