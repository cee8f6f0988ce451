-- signon in the sandbox estate, seeded like the runbook's example (as assets/sandbox/signon.sql).
-- Run as the server's root; {{password}} is replaced by the app user's password.
CREATE DATABASE IF NOT EXISTS signon_production;
CREATE USER IF NOT EXISTS 'signon'@'%' IDENTIFIED BY {{password}};
GRANT ALL PRIVILEGES ON signon_production.* TO 'signon'@'%';

USE signon_production;
CREATE TABLE IF NOT EXISTS users (
  id INT AUTO_INCREMENT PRIMARY KEY,
  email VARCHAR(255) NOT NULL UNIQUE,
  name VARCHAR(255) NOT NULL,
  last_sign_in_at DATETIME NULL,
  suspended_at DATETIME NULL
);
CREATE TABLE IF NOT EXISTS login_events (
  id INT AUTO_INCREMENT PRIMARY KEY,
  user_id INT NOT NULL,
  happened_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS gdpr_audit (
  id INT AUTO_INCREMENT PRIMARY KEY,
  user_id INT NOT NULL,
  action VARCHAR(64) NOT NULL,
  at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT IGNORE INTO users (id, email, name, last_sign_in_at) VALUES
  (1, 'ada@example.gov.uk', 'Ada', NOW()),
  (2, 'grace@example.gov.uk', 'Grace', NOW() - INTERVAL 3 DAY),
  (3, 'alan@example.gov.uk', 'Alan', NULL);

-- Objects "defined" by the app user, as the runbook warns about.
CREATE OR REPLACE DEFINER = 'signon'@'%' SQL SECURITY DEFINER VIEW active_users_summary AS
  SELECT COUNT(*) AS active_users FROM users WHERE suspended_at IS NULL;
CREATE OR REPLACE DEFINER = 'signon'@'%' SQL SECURITY DEFINER VIEW gdpr_audit_log AS
  SELECT user_id, action, at FROM gdpr_audit;
CREATE OR REPLACE DEFINER = 'root'@'localhost' VIEW daily_login_stats AS
  SELECT DATE(happened_at) AS day, COUNT(*) AS logins FROM login_events GROUP BY DATE(happened_at);
DROP PROCEDURE IF EXISTS suspend_user;
CREATE DEFINER = 'signon'@'%' PROCEDURE suspend_user(IN uid INT)
  UPDATE users SET suspended_at = NOW() WHERE id = uid;
DROP TRIGGER IF EXISTS audit_suspension;
CREATE DEFINER = 'signon'@'%' TRIGGER audit_suspension AFTER UPDATE ON users FOR EACH ROW
  INSERT INTO gdpr_audit (user_id, action) VALUES (NEW.id, 'updated');
