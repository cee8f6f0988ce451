-- whitehall-admin in the sandbox estate: its names drift from the app's
-- (database whitehall_production, user whitehall, secret whitehall-admin-mysql).
-- Run as the server's root; {{password}} is replaced by the app user's password.
CREATE DATABASE IF NOT EXISTS whitehall_production;
CREATE USER IF NOT EXISTS 'whitehall'@'%' IDENTIFIED BY {{password}};
GRANT ALL PRIVILEGES ON whitehall_production.* TO 'whitehall'@'%';

USE whitehall_production;
CREATE TABLE IF NOT EXISTS editions (
  id INT AUTO_INCREMENT PRIMARY KEY,
  title VARCHAR(255) NOT NULL,
  state VARCHAR(32) NOT NULL DEFAULT 'draft',
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS organisations (
  id INT AUTO_INCREMENT PRIMARY KEY,
  slug VARCHAR(255) NOT NULL UNIQUE
);
INSERT IGNORE INTO organisations (id, slug) VALUES (1, 'cabinet-office'), (2, 'hm-treasury');
INSERT IGNORE INTO editions (id, title, state) VALUES (1, 'Budget 2026', 'published'), (2, 'Draft guidance', 'draft');
CREATE OR REPLACE DEFINER = 'whitehall'@'%' SQL SECURITY DEFINER VIEW published_editions AS
  SELECT id, title FROM editions WHERE state = 'published';
-- A trigger defined by the app's login: the data sync's mysqldump carries it
-- (and the view above) with its DEFINER into staging and integration.
CREATE DEFINER = 'whitehall'@'%' TRIGGER IF NOT EXISTS editions_touch BEFORE UPDATE ON editions
  FOR EACH ROW SET NEW.updated_at = NOW();
