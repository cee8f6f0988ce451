//! MySQL / MariaDB.
