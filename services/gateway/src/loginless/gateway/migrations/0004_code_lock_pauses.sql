-- A lock after too many wrong one-time codes pauses a link's codes until a time, and staff can end it early: the
-- newest verification fact wins (a lock, or a reset recorded as a lock that ended as it began), whatever order
-- events and answers arrive in. NULL: not locked, or a lock from before pauses were recorded (links decides those).
ALTER TABLE {schema}.link_state ADD COLUMN verification_locked_until timestamptz;
