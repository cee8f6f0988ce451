-- staging's transform of email-alert-api after its restore, as the head of
-- HC charts/db-backup/scripts/email-alert-api.sql: drop emails more than a
-- day old by re-creating the table, which the login must own again.
-- Run by `psql "$DB_DATABASE" < script` as the admin (no ON_ERROR_STOP, as
-- the chart's backup-postgres: a failing statement does not fail the Job).
ALTER TABLE emails RENAME TO old_emails;
CREATE TABLE emails (
  LIKE old_emails INCLUDING CONSTRAINTS INCLUDING DEFAULTS INCLUDING INDEXES
);
ALTER TABLE emails OWNER TO "email-alert-api";
INSERT INTO emails SELECT * FROM old_emails WHERE created_at > current_timestamp - interval '1 day';
DROP TABLE old_emails CASCADE;
