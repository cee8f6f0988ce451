//! The sandbox's own tests, in one binary (one link, one set of shared
//! servers): the API server against the real kube client and kubectl, and
//! the default estate started for real.

mod estate;
mod kube_api;
