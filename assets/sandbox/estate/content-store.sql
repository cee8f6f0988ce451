-- content-store in the sandbox estate, seeded like account-api: the app's
-- login user owns the database and every object. Production's copy is what
-- staging's nightly restore brings over.
-- Run as a superuser connected to content_store_production.
SET ROLE "content-store";
CREATE TABLE IF NOT EXISTS content_items (
  id bigserial PRIMARY KEY,
  base_path text NOT NULL UNIQUE,
  title text NOT NULL,
  document_type text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS publish_intents (
  id bigserial PRIMARY KEY,
  base_path text NOT NULL,
  publish_time timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY);
CREATE OR REPLACE VIEW guides AS
  SELECT base_path, title FROM content_items WHERE document_type = 'guide';
INSERT INTO content_items (base_path, title, document_type) VALUES
  ('/vat-rates', 'VAT rates', 'answer'),
  ('/browse/driving', 'Driving', 'mainstream_browse_page'),
  ('/register-to-vote', 'Register to vote', 'guide')
  ON CONFLICT DO NOTHING;
INSERT INTO schema_migrations VALUES ('20260101000000') ON CONFLICT DO NOTHING;
RESET ROLE;
