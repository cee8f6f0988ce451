//! AWS: Secrets Manager and the caller session.
