-- When the link's one-time codes were sent within the last day: sending is capped per hour and per day
-- (LINKS_CODE_SENDS_PER_HOUR, LINKS_CODE_SENDS_PER_DAY). Kept in the row the sends already lock, trimmed to a day
-- on every send.
ALTER TABLE {schema}.link_verifications ADD COLUMN code_sends timestamptz[] NOT NULL DEFAULT '{}';
