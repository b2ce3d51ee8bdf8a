//! The kinds of target, one module each, and what they share.
//!
//! A kind's module owns everything about its protocol: its URL schemes, form and
//! defaults, its environment variables, which query parameters are secret, its
//! probe, its table of transient and permanent failures, and its lines in `--help`
//! and `--version`. [`crate::kinds::KINDS`] lists the modules: adding a kind is one new module
//! and one line there. [`crate::target`] dispatches a target's scheme to its kind;
//! [`crate::wait`] bounds every attempt, so deadlines and retries are no probe's
//! business.
//!
//! Shared machinery: [`net`] resolves and connects (every address, resolved again
//! at every attempt), [`tls`] builds client configurations and performs the
//! handshake for every protocol, [`error`] says why an attempt failed, [`wire`]
//! reads the bytes of the protocols whose decoders are written by hand, [`sql`]
//! holds the `#query=` and `#table=` expectations of the SQL kinds,
//! [`pointer`](mod@pointer) the JSON pointer expectations of http's `#json=` and
//! k8s's `field=`, [`scram`] the SCRAM logins of Kafka and MongoDB, [`cluster`] the
//! host lists of Kafka and MongoDB.

pub mod cluster;
pub mod error;
pub mod kind;
pub mod net;
pub mod pointer;
pub mod scram;
pub mod sql;
pub mod status;
pub mod tls;
pub mod watch;
pub mod wire;

pub mod amqp;
pub mod cmd;
pub mod dns;
pub mod file;
pub mod grpc;
pub mod http;
pub mod http2;
pub mod k8s;
pub mod kafka;
pub mod memcached;
pub mod mongodb;
pub mod mqtt;
pub mod mysql;
pub mod nats;
pub mod postgres;
pub mod redis;
pub mod tcp;
pub mod unix;

pub use error::ProbeError;
pub use kind::{Attempt, Check, Ctx, Kind, Shared};
