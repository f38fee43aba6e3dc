-- A delivered link can be sent again (a reminder, or staff's "resend") without issuing a new token: its token is
-- kept encrypted, like a pending delivery's, for as long as the link can still open. Revoking, expiry and
-- forgetting erase it; a link issued without delivery keeps nothing, since links never had an address for it.
CREATE TABLE {schema}.resendable_tokens (
    link_id  text  PRIMARY KEY,
    secret   bytea NOT NULL
);

ALTER TABLE {schema}.pending_deliveries DROP CONSTRAINT pending_deliveries_purpose_check;
ALTER TABLE {schema}.pending_deliveries ADD CONSTRAINT pending_deliveries_purpose_check
    CHECK (purpose IN ('link', 'code', 'reminder'));
