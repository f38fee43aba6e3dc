-- A resource's own reminder schedule (an envelope's sender chose one), kept from ResourceRemindersSet: the links of
-- that resource follow it instead of their tenant's.
CREATE TABLE {schema}.resource_reminders (
    resource_id text  PRIMARY KEY,
    tenant_id   text  NOT NULL,
    reminders   jsonb NOT NULL
);
