-- RDS-shaped setup for the sandbox's MySQL 9.7 servers (run as root@localhost;
-- {{admin_password}} is replaced by the quoted master password).
-- Approximates Amazon RDS for MySQL >= 8.0.36 / 8.4:
--   * rdsadmin@localhost: RDS's own, locked-from-outside superuser (here: ACCOUNT LOCK)
--   * rds_superuser_role + master user aws_db_admin@% with the documented static
--     privileges ON *.* WITH GRANT OPTION, CREATE ROLE, DROP ROLE and the dynamic
--     APPLICATION_PASSWORD_ADMIN, ROLE_ADMIN, XA_RECOVER_ADMIN plus, because
--     SET_USER_ID no longer exists in 8.4/9.x, SET_ANY_DEFINER and
--     ALLOW_NONEXISTENT_DEFINER (its replacements). Deliberately NOT granted:
--     SUPER, CONNECTION_ADMIN, SYSTEM_USER, SYSTEM_VARIABLES_ADMIN (as on RDS, the
--     master cannot KILL other users' threads, hence mysql.rds_kill).
--   * mysql.rds_kill(thread) / mysql.rds_kill_query(thread), SQL SECURITY DEFINER
--     procedures in the mysql schema, definer root@localhost
--   (the app schema, users and objects are the test's own to create)

-- RDS's internal admin account (exists on every RDS instance)
CREATE USER IF NOT EXISTS 'rdsadmin'@'localhost' IDENTIFIED BY 'rdsadmin-not-used' ACCOUNT LOCK;
GRANT ALL PRIVILEGES ON *.* TO 'rdsadmin'@'localhost' WITH GRANT OPTION;

-- the master user's role
CREATE ROLE IF NOT EXISTS 'rds_superuser_role';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX,
      ALTER, SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE,
      REPLICATION SLAVE, REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE,
      ALTER ROUTINE, CREATE USER, EVENT, TRIGGER, CREATE ROLE, DROP ROLE
   ON *.* TO 'rds_superuser_role' WITH GRANT OPTION;
GRANT APPLICATION_PASSWORD_ADMIN, ROLE_ADMIN, XA_RECOVER_ADMIN, SET_ANY_DEFINER,
      ALLOW_NONEXISTENT_DEFINER
   ON *.* TO 'rds_superuser_role' WITH GRANT OPTION;

-- the master user
CREATE USER IF NOT EXISTS 'aws_db_admin'@'%' IDENTIFIED BY {{admin_password}};
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX,
      ALTER, SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE,
      REPLICATION SLAVE, REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE,
      ALTER ROUTINE, CREATE USER, EVENT, TRIGGER, CREATE ROLE, DROP ROLE
   ON *.* TO 'aws_db_admin'@'%' WITH GRANT OPTION;
GRANT APPLICATION_PASSWORD_ADMIN, ROLE_ADMIN, XA_RECOVER_ADMIN, SET_ANY_DEFINER,
      ALLOW_NONEXISTENT_DEFINER
   ON *.* TO 'aws_db_admin'@'%' WITH GRANT OPTION;
GRANT 'rds_superuser_role' TO 'aws_db_admin'@'%' WITH ADMIN OPTION;
SET DEFAULT ROLE 'rds_superuser_role' TO 'aws_db_admin'@'%';

-- RDS's kill helpers
DROP PROCEDURE IF EXISTS mysql.rds_kill;
DROP PROCEDURE IF EXISTS mysql.rds_kill_query;
DELIMITER //
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_kill(IN thread BIGINT)
    READS SQL DATA
    SQL SECURITY DEFINER
BEGIN
  DECLARE l_user VARCHAR(32);
  DECLARE l_host VARCHAR(255);
  SELECT user, host INTO l_user, l_host FROM information_schema.processlist WHERE id = thread;
  IF l_user = 'rdsadmin' AND l_host LIKE 'localhost%' THEN
    SELECT 'ERROR (RDS): CANNOT KILL RDSADMIN SESSION' AS CANNOT_KILL_RDSADMIN_SESSION;
  ELSE
    KILL thread;
  END IF;
END//
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_kill_query(IN thread BIGINT)
    READS SQL DATA
    SQL SECURITY DEFINER
BEGIN
  DECLARE l_user VARCHAR(32);
  DECLARE l_host VARCHAR(255);
  SELECT user, host INTO l_user, l_host FROM information_schema.processlist WHERE id = thread;
  IF l_user = 'rdsadmin' AND l_host LIKE 'localhost%' THEN
    SELECT 'ERROR (RDS): CANNOT KILL RDSADMIN QUERY' AS CANNOT_KILL_RDSADMIN_QUERY;
  ELSE
    KILL QUERY thread;
  END IF;
END//
DELIMITER ;
GRANT EXECUTE ON PROCEDURE mysql.rds_kill TO 'aws_db_admin'@'%';
GRANT EXECUTE ON PROCEDURE mysql.rds_kill_query TO 'aws_db_admin'@'%';
