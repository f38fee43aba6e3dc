-- Templates as staff list them: a projection of the template events (the template itself is read from its stream).
CREATE TABLE {schema}.templates (
    template_id text        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    name        text        NOT NULL,
    roles       text[]      NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX templates_by_tenant ON {schema}.templates (tenant_id, created_at DESC, template_id);
