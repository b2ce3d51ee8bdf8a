//! whenready: wait until TCP ports, Unix sockets, files, databases, brokers, HTTP(S)
//! and gRPC endpoints, DNS records and Kubernetes objects are ready, then replace
//! this process with a command.
//!
//! The binary is `src/main.rs` over [`app::main`]; the library exists so that the
//! command-line definition, the parsers and the probes can be reached by the docs
//! generator, the fuzzer and the tests.

pub mod app;
pub mod backoff;
pub mod children;
pub mod cli;
pub mod compat;
pub mod config;
pub mod duration;
pub mod endpoint;
pub mod env;
pub mod exec;
pub mod exit;
pub mod kinds;
pub mod limits;
pub mod plan;
pub mod probe;
pub mod report;
pub mod secret;
pub mod signal;
pub mod target;
pub mod text;
pub mod wait;
