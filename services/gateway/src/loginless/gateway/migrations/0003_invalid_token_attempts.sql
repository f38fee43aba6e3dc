-- Invalid link tokens per client address (an IPv4 address or an IPv6 /64), shared by every gateway replica: a
-- window of the rate limit is ten buckets, each numbered floor(unix time / (window / 10)). Only failures are
-- written; the worker deletes buckets that left the window.

CREATE TABLE {schema}.invalid_token_attempts (
    client_key text    NOT NULL,
    bucket     bigint  NOT NULL,
    failures   integer NOT NULL,
    PRIMARY KEY (client_key, bucket)
);
