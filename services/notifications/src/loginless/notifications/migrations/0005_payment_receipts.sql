-- A mail of a new kind: a payer's receipt, with the receipt PDF payments draws attached.
ALTER TABLE {schema}.mail_items DROP CONSTRAINT mail_items_kind_check;
ALTER TABLE {schema}.mail_items ADD CONSTRAINT mail_items_kind_check
    CHECK (kind IN ('owner_alert', 'owner_digest', 'upload_receipt', 'request_receipt', 'decline_notice',
                    'payment_receipt'));
