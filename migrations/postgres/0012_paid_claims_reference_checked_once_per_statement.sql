-- PostgreSQL only (issue 8): "a paid claim is in a recorded payment" is
-- checked once per statement instead of once per row.
--
-- PostgreSQL (15) checks a foreign key one row at a time: for each of a
-- national day's ~950,000 paid claims, a `SELECT … FOR KEY SHARE` on its
-- payment. That was ~5 s of the planning's insert into `payment_claims`
-- (docs/performance.md, "2026-12-07 (later)" and "2026-12-08"). The key
-- `payment_claims_reference_fkey` is replaced by triggers that keep every
-- guarantee it gave, over the whole set of rows a statement wrote:
-- - inserting or updating paid claims whose reference names no payment
--   fails the statement, with the key's SQLSTATE (23503, foreign_key_violation),
--   its name and its message;
-- - the payments named are held `FOR KEY SHARE`, as the key's check holds
--   them, once a payment, so that none can be deleted before the claims
--   that name it commit;
-- - deleting or re-keying a payment that paid claims still name fails the
--   same way; truncating `payments` while paid claims exist is refused.
-- SQLite keeps the key (migration 0007): it checks it at a set's cost.
-- The functions keep the schema they were created in (`SET search_path
-- FROM CURRENT`): a session with another search path checks the same tables.
-- `tests/settle.rs::paid_claims_must_name_a_payment` holds both databases
-- to the same refusals.

ALTER TABLE payment_claims DROP CONSTRAINT payment_claims_reference_fkey;

CREATE FUNCTION payment_claims_name_payments() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    named BIGINT;
    held BIGINT;
    missing TEXT;
BEGIN
    -- One probe of the payments' key a payment named, never a scan of
    -- `payments`: the cost follows the statement, not the history.
    SELECT COUNT(*), COUNT(h.reference) INTO named, held
    FROM (SELECT DISTINCT reference FROM new_paid_claims) n
    LEFT JOIN LATERAL (
        SELECT p.reference FROM payments p WHERE p.reference = n.reference FOR KEY SHARE
    ) h ON true;
    IF held < named THEN
        SELECT n.reference INTO missing FROM new_paid_claims n
        WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.reference = n.reference)
        LIMIT 1;
        RAISE EXCEPTION 'insert or update on table "payment_claims" violates foreign key constraint "payment_claims_reference_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (reference)=(%s) is not present in table "payments".', missing),
                  TABLE = 'payment_claims',
                  CONSTRAINT = 'payment_claims_reference_fkey';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER payment_claims_name_payments_on_insert
    AFTER INSERT ON payment_claims
    REFERENCING NEW TABLE AS new_paid_claims
    FOR EACH STATEMENT EXECUTE FUNCTION payment_claims_name_payments();

CREATE TRIGGER payment_claims_name_payments_on_update
    AFTER UPDATE ON payment_claims
    REFERENCING NEW TABLE AS new_paid_claims
    FOR EACH STATEMENT EXECUTE FUNCTION payment_claims_name_payments();

CREATE FUNCTION payments_keep_those_paid_claims_name() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    orphaned TEXT;
BEGIN
    -- A payment's old reference that paid claims still name and no payment
    -- has now; each probed by key (LIMIT keeps the probe a probe).
    SELECT o.reference INTO orphaned FROM old_payments o
    CROSS JOIN LATERAL (
        SELECT 1 FROM payment_claims c WHERE c.reference = o.reference LIMIT 1
    ) named
    WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.reference = o.reference)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'update or delete on table "payments" violates foreign key constraint "payment_claims_reference_fkey" on table "payment_claims"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (reference)=(%s) is still referenced from table "payment_claims".', orphaned),
                  TABLE = 'payments',
                  CONSTRAINT = 'payment_claims_reference_fkey';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER payments_keep_those_paid_claims_name_on_delete
    AFTER DELETE ON payments
    REFERENCING OLD TABLE AS old_payments
    FOR EACH STATEMENT EXECUTE FUNCTION payments_keep_those_paid_claims_name();

CREATE TRIGGER payments_keep_those_paid_claims_name_on_update
    AFTER UPDATE ON payments
    REFERENCING OLD TABLE AS old_payments
    FOR EACH STATEMENT EXECUTE FUNCTION payments_keep_those_paid_claims_name();

CREATE FUNCTION payments_not_truncated_under_paid_claims() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM payment_claims) THEN
        RAISE EXCEPTION 'cannot truncate table "payments": paid claims name its payments'
            USING ERRCODE = 'foreign_key_violation',
                  TABLE = 'payments',
                  CONSTRAINT = 'payment_claims_reference_fkey';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER payments_not_truncated_under_paid_claims
    BEFORE TRUNCATE ON payments
    FOR EACH STATEMENT EXECUTE FUNCTION payments_not_truncated_under_paid_claims();
