//! Not a benchmark of its own: the fake Kafka broker and MongoDB server of the test
//! suite (tests/common/kafka.rs and mongodb.rs, written from the protocols'
//! specifications and checked there with kcat, confluent-kafka, kafka-python and
//! pymongo), served for `bench/bench.py`'s one-shot rows, since no broker or mongod
//! can be installed on the machines this project runs on.
//!
//! ```text
//! cargo bench --bench fakes -- kafka [SECONDS]     # 127.0.0.1:PORT on stdout, then serves
//! cargo bench --bench fakes -- mongodb [SECONDS]   # user app, password bench-Pw, SCRAM-SHA-256
//! ```

#[allow(unused_imports)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::kafka::{KafkaFake, State, Topic};
use common::mongodb::{MongoFake, MongoState, User};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// The MongoDB user the bench logs in as.
const MONGO_USER: (&str, &str) = ("app", "bench-Pw");

fn main() -> ExitCode {
    // cargo bench passes --bench; the rest is ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let seconds = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(60u64);
    let addr;
    // Each fake serves while it is held.
    let _held: Box<dyn std::any::Any> = match args.first().map(String::as_str) {
        Some("kafka") => {
            let k = KafkaFake::start(
                State {
                    topics: vec![Topic::led("orders", 3), Topic::led("events", 1)],
                    ..State::default()
                },
                None,
            );
            addr = k.addr();
            Box::new(k)
        }
        Some("mongodb") => {
            let m = MongoFake::start(
                MongoState {
                    user: Some(User {
                        name: MONGO_USER.0.into(),
                        password: MONGO_USER.1.into(),
                        db: "admin".into(),
                        mechanisms: vec!["SCRAM-SHA-256".into()],
                        iterations: 15_000,
                    }),
                    ..MongoState::default()
                },
                None,
            );
            addr = m.addr();
            Box::new(m)
        }
        _ => {
            let _ = writeln!(std::io::stderr(), "usage: fakes kafka|mongodb [SECONDS]");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{addr}");
    let _ = out.flush();
    std::thread::sleep(Duration::from_secs(seconds));
    ExitCode::SUCCESS
}
