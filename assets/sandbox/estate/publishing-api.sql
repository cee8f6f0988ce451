-- publishing-api in the sandbox estate: an owner role owns every object and
-- the login is a member of it (the estate's `publishing-api-owner-role`,
-- DB_OWNER of its staging and integration restores). Run as a superuser
-- connected to publishing_api_production; the role exists already.
ALTER DATABASE publishing_api_production OWNER TO "publishing-api-owner-role";
SET ROLE "publishing-api-owner-role";
CREATE TABLE IF NOT EXISTS documents (
  id bigserial PRIMARY KEY,
  content_id uuid NOT NULL DEFAULT gen_random_uuid(),
  locale text NOT NULL DEFAULT 'en'
);
CREATE TABLE IF NOT EXISTS events (
  id bigserial PRIMARY KEY,
  action text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO documents (locale) VALUES ('en'), ('cy');
INSERT INTO events (action) VALUES ('PutContent'), ('Publish');
RESET ROLE;
