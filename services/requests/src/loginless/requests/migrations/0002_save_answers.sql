-- An autosave in one statement, its own transaction: the recipient's lock, whether the request still takes answers,
-- each answer's version checked, and every change written -- or none. One round trip instead of six (begin, lock,
-- the request's events, the draft, the upsert, commit): the save is the service's most frequent write.
--
-- Whether the request still takes answers is read from the read models, which the transactions appending
-- ClientRequestCompleted, RequestSentBack and RequestCancelled update; a submission appends under the same lock, so
-- a save either lands before it or finds it. (The caller has judged the request from its events already; this is
-- the same rule, under the lock.)
--
-- p_changes: [{"question_id": ..., "value": <json>, "base_version": <int or null>}]. p_unanswered_since: if set, the
-- save is refused ('answered') when the recipient gave answers after that time (a browser that has not proven itself
-- may only give the first ones). Returns one row per answer of the recipient's draft as it now is ('draft'), or the
-- answers that changed since their base version ('conflict'), or one row saying why nothing was saved ('cancelled',
-- 'submitted', 'answered').
CREATE FUNCTION {schema}.save_answers(p_request text, p_recipient text, p_lock bigint, p_tenant text,
                                      p_changes jsonb, p_now timestamptz, p_unanswered_since timestamptz)
RETURNS TABLE (outcome text, question_id text, value jsonb, version integer, saved_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    closed text;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    SELECT CASE WHEN r.cancelled_at IS NOT NULL THEN 'cancelled'
                WHEN p.submitted_at IS NOT NULL AND (p.sent_back_at IS NULL OR p.submitted_at > p.sent_back_at)
                THEN 'submitted' END
      INTO closed
      FROM {schema}.client_requests r JOIN {schema}.request_recipients p USING (client_request_id)
     WHERE r.client_request_id = p_request AND p.recipient_id = p_recipient;
    IF closed IS NOT NULL THEN
        RETURN QUERY SELECT closed, NULL::text, NULL::jsonb, NULL::integer, NULL::timestamptz;
        RETURN;
    END IF;
    IF p_unanswered_since IS NOT NULL AND EXISTS (
            SELECT 1 FROM {schema}.drafts d WHERE d.client_request_id = p_request AND d.recipient_id = p_recipient
               AND d.saved_at > p_unanswered_since) THEN
        RETURN QUERY SELECT 'answered'::text, NULL::text, NULL::jsonb, NULL::integer, NULL::timestamptz;
        RETURN;
    END IF;
    -- An answer conflicts when the guest edited another version than the one there now, unless both say the same.
    RETURN QUERY
        SELECT 'conflict'::text, c.question_id, d.value, coalesce(d.version, 0), coalesce(d.saved_at, p_now)
          FROM jsonb_to_recordset(p_changes) AS c(question_id text, value jsonb, base_version integer)
          LEFT JOIN {schema}.drafts d ON d.client_request_id = p_request AND d.recipient_id = p_recipient
                                      AND d.question_id = c.question_id
         WHERE c.base_version IS NOT NULL AND c.base_version <> coalesce(d.version, 0)
           AND coalesce(d.value, 'null'::jsonb) IS DISTINCT FROM coalesce(c.value, 'null'::jsonb);
    IF FOUND THEN
        RETURN;
    END IF;
    INSERT INTO {schema}.drafts AS d (client_request_id, recipient_id, question_id, tenant_id, value, version,
                                      saved_at)
    SELECT p_request, p_recipient, c.question_id, p_tenant, coalesce(c.value, 'null'::jsonb), 1, p_now
      FROM jsonb_to_recordset(p_changes) AS c(question_id text, value jsonb, base_version integer)
    ON CONFLICT (client_request_id, recipient_id, question_id) DO UPDATE
       SET value = EXCLUDED.value, saved_at = EXCLUDED.saved_at,
           version = d.version + (CASE WHEN d.value = EXCLUDED.value THEN 0 ELSE 1 END);
    RETURN QUERY
        SELECT 'draft'::text, d.question_id, d.value, d.version, d.saved_at FROM {schema}.drafts d
         WHERE d.client_request_id = p_request AND d.recipient_id = p_recipient;
END
$$;
