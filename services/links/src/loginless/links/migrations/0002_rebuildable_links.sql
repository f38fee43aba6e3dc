-- The links table is a projection of the links' events (projections.py), which `projections rebuild` empties and
-- replays: the plain tables beside it no longer point into it, and it learns whether LinkExpired was recorded.
-- Idempotency-Key answers moved to the kernel's table (idempotent_answers).

ALTER TABLE {schema}.link_tokens DROP CONSTRAINT link_tokens_link_id_fkey;
ALTER TABLE {schema}.link_verifications DROP CONSTRAINT link_verifications_link_id_fkey;
ALTER TABLE {schema}.pending_deliveries DROP CONSTRAINT pending_deliveries_link_id_fkey;
ALTER TABLE {schema}.link_accesses DROP CONSTRAINT link_accesses_link_id_fkey;

ALTER TABLE {schema}.links ADD COLUMN expiry_recorded boolean NOT NULL DEFAULT false;
-- A recipient's language is theirs to give: without it, pages follow the guest's browser (and e-mails are English).
ALTER TABLE {schema}.links ALTER COLUMN recipient_language DROP NOT NULL;
-- The worker's question every few seconds: which links passed their expiry without LinkExpired yet.
CREATE INDEX links_awaiting_expiry ON {schema}.links (expires_at) WHERE NOT expiry_recorded AND revoked_at IS NULL;
-- Retention: links that ended long ago are forgotten whole.
CREATE INDEX links_by_expiry ON {schema}.links (expires_at);

DROP TABLE {schema}.idempotent_requests;
