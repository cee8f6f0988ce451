//! A local world to run rotui in: throwaway database servers, a Secrets
//! Manager emulator and a Kubernetes API server with the controllers rotui
//! relies on. Used by `rotui sandbox`, `just demo` and the tests.

pub mod apiserver;
pub mod controllers;
pub mod estate;
pub mod guard;
pub mod mariadb;
pub mod moto;
pub mod mysql;
pub mod postgres;
pub mod tls;
pub mod world;
