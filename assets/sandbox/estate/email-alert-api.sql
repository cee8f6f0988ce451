-- email-alert-api in the sandbox estate: the login owns the database and
-- every object (HC values.yaml sets DB_OWNER to the login in staging and
-- integration). Run as a superuser connected to email-alert-api_production.
SET ROLE "email-alert-api";
CREATE TABLE IF NOT EXISTS subscribers (
  id bigserial PRIMARY KEY,
  address text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS emails (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  address text NOT NULL,
  subject text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO subscribers (address) VALUES ('a@example.com'), ('b@example.com')
  ON CONFLICT DO NOTHING;
INSERT INTO emails (address, subject, created_at) VALUES
  ('a@example.com', 'Today''s update', now()),
  ('b@example.com', 'Last month''s update', now() - interval '30 days');
RESET ROLE;
