//! Shared test helpers, one concern a file: running the built binary
//! ([`process`]), small fakes on 127.0.0.1 ([`fake`]), certificates ([`tls`]), the
//! real servers the tests start (PostgreSQL 15 in [`pg`], redis-server in
//! [`redis_server`], and one file each for the others), hostile-peer measurements
//! ([`hostile`]). Everything a test uses is re-exported here (`use common::*`).
//!
//! Real servers are started per test on free ports and stopped on drop; the
//! PostgreSQL cluster is initialised once per machine (a template under the temp
//! dir, guarded by a file lock) and copied for each test, since initdb costs seconds.
//! A missing server binary fails the test with a message saying what to install.
#![allow(dead_code)]

pub mod dnsmasq;
pub mod fake;
pub mod grpc;
pub mod hostile;
pub mod kafka;
pub mod mariadb;
pub mod memcached;
pub mod mongodb;
pub mod mosquitto;
pub mod mysql_fake;
pub mod nats;
pub mod pg;
pub mod process;
pub mod pyhttp;
pub mod rabbitmq;
pub mod redis_server;
pub mod tls;

// Each test binary uses some of these, none uses all.
#[allow(unused_imports)]
pub use fake::*;
#[allow(unused_imports)]
pub use pg::*;
#[allow(unused_imports)]
pub use process::*;
#[allow(unused_imports)]
pub use redis_server::*;
#[allow(unused_imports)]
pub use tls::*;
