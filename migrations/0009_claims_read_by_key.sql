-- Performance (issue 8): `claims` keeps its primary key and loses its two
-- secondary indexes.
--
-- A claim is written once, by the import of its file, and every statement
-- of the system reads it by its key (ps_id, invoice_no): the settlement
-- plans from `unpaid_claims` and `unreturned_rejections`, the watch from
-- `unpaid_claims`, the SLA report from what each run recorded (migration
-- 0008) and from `unpaid_claims`. `claims_by_received` served the report's
-- old scan of a period's claims, `claims_by_deadline` the watch's old scan
-- of the unpaid ones; neither is read any more, yet each made every
-- imported claim write one more B-tree: four per claim (SQLite's table,
-- its key, these two), three on PostgreSQL, where the insert into `claims`
-- was half of a national day's import (docs/performance.md, "the claims
-- import: one pass and two B-trees fewer").
-- `tests/import.rs::claims_is_indexed_by_its_key_alone` keeps it so.
DROP INDEX IF EXISTS claims_by_received;
DROP INDEX IF EXISTS claims_by_deadline;
