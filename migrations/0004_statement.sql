-- Paper statements (issue 4). Who got a statement in an earlier run is
-- derived from that run's payments (a practitioner payment holding a
-- NOEMIE-origin claim), so nothing new is stored; this index makes the
-- "rejected since the last statement" look-up (payments of one payee
-- across runs) an index probe instead of a scan of every payment.
CREATE INDEX payments_by_payee ON payments (payee_id, payee_kind);
