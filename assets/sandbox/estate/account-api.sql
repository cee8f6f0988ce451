-- account-api in the sandbox estate (as assets/sandbox/account-api.sql):
-- the app's login user owns every table (not yet on owner roles).
-- Run as a superuser connected to "account-api_production".
SET ROLE "account-api";
CREATE TABLE IF NOT EXISTS users (
  id bigserial PRIMARY KEY,
  sub text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS auth_requests (
  id bigserial PRIMARY KEY,
  oauth_state text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS email_subscriptions (
  id bigserial PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users(id),
  topic_slug text NOT NULL
);
CREATE TABLE IF NOT EXISTS tombstones (
  id bigserial PRIMARY KEY,
  sub text NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY);
CREATE OR REPLACE VIEW active_subscriptions AS
  SELECT user_id, count(*) AS topics FROM email_subscriptions GROUP BY user_id;
INSERT INTO users (sub) VALUES ('user-1'), ('user-2'), ('user-3') ON CONFLICT DO NOTHING;
INSERT INTO schema_migrations VALUES ('20260101000000') ON CONFLICT DO NOTHING;
RESET ROLE;
