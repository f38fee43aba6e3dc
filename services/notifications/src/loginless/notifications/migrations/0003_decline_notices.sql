-- A mail of a new kind: the notice to an envelope's other signers that a signer declined and it stopped.
ALTER TABLE {schema}.mail_items DROP CONSTRAINT mail_items_kind_check;
ALTER TABLE {schema}.mail_items ADD CONSTRAINT mail_items_kind_check
    CHECK (kind IN ('owner_alert', 'owner_digest', 'upload_receipt', 'request_receipt', 'decline_notice'));
