-- Wrong one-time codes pause a link's codes for a while, never for good: until when (NULL: not locked, or a lock
-- recorded before pauses were, which the stream ends one first pause after it began), and how many locks since
-- the last reset (each pauses twice as long as the one before).
ALTER TABLE {schema}.links ADD COLUMN verification_locked_until timestamptz;
ALTER TABLE {schema}.links ADD COLUMN verification_locks integer NOT NULL DEFAULT 0;
