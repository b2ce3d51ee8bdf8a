//! `postgres://…#query=SQL` and `#table=NAME` against one real PostgreSQL 15 of our
//! own for the whole binary: ready late (the table and the row come while
//! whenready waits), never ready, the permanent failures (syntax, permission,
//! writes refused by the read-only transaction, a statement that returns nothing;
//! plain and --json, no password), a write that cannot happen (the data unchanged
//! after INSERT, UPDATE, DDL and a second statement), the truth of values of every
//! kind, a huge first row and many rows in bounded memory, `--once`, and malformed
//! fragments.

mod common;
use common::hostile::{assert_bounded_memory, run_measured};
use common::*;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

const READER_PW: &str = "reader-Canary-81c4";

/// Runs SQL as the superuser `app` through psql; returns its unaligned output.
fn psql(pg: &Pg, sql: &str) -> String {
    require("psql", "postgresql-client");
    let out = Command::new("psql")
        .env("PGPASSWORD", PG_PASSWORD)
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "app",
            "-d",
            "postgres",
            "-c",
            sql,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The target: `app`'s URL with this fragment.
fn url(pg: &Pg, fragment: &str) -> String {
    format!("{}#{fragment}", pg.url(PG_PASSWORD, ""))
}

/// Whether `stderr` holds `reason`, as plain output writes it or as a JSON string.
/// The target as the unprivileged role `reader`.
fn reader_url(pg: &Pg, fragment: &str) -> String {
    format!(
        "postgres://reader:{READER_PW}@127.0.0.1:{}/postgres#{fragment}",
        pg.port
    )
}

#[test]
fn postgres_expectations() {
    let pg = Pg::started();
    psql(
        &pg,
        &format!(
            "CREATE ROLE reader LOGIN PASSWORD '{READER_PW}';
             CREATE TABLE secret (x int); INSERT INTO secret VALUES (1);
             CREATE TABLE counts (n int); INSERT INTO counts VALUES (0);
             CREATE INDEX counts_n_idx ON counts (n);
             CREATE SEQUENCE ids;"
        ),
    );
    // The scenarios share the server; each uses tables of its own.
    thread::scope(|s| {
        s.spawn(|| ready_late(&pg));
        s.spawn(|| never_ready(&pg));
        s.spawn(|| permanent_failures(&pg));
        s.spawn(|| writes_cannot_happen(&pg));
        s.spawn(|| values(&pg));
        s.spawn(|| bounded(&pg));
        s.spawn(|| malformed(&pg));
    });
}

fn ready_late(pg: &Pg) {
    // #table=: the schema comes, then the table.
    let start = Instant::now();
    let child = whenready()
        .args([
            "-t",
            "60s",
            &url(pg, "table=late_schema.jobs"),
            "--",
            "echo",
            "ran",
        ])
        .spawn_piped();
    thread::sleep(Duration::from_millis(800));
    psql(pg, "CREATE SCHEMA late_schema");
    thread::sleep(Duration::from_millis(500));
    psql(pg, "CREATE TABLE late_schema.jobs (id int)");
    let r = finish(child, start, Duration::from_secs(70));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    assert!(
        r.stderr
            .contains("schema \"late_schema\" does not exist (3F000)"),
        "{r:?}"
    );
    assert_no_secret(&r, PG_PASSWORD);

    // #query=: no table, then no row, then false, then true; shown as written.
    let query = "query=SELECT done FROM seed_flags WHERE name = 'seed'";
    let start = Instant::now();
    let child = whenready()
        .args(["-t", "60s", &url(pg, query), "--", "echo", "ran"])
        .spawn_piped();
    thread::sleep(Duration::from_millis(600));
    psql(pg, "CREATE TABLE seed_flags (name text, done bool)");
    thread::sleep(Duration::from_millis(600));
    psql(pg, "INSERT INTO seed_flags VALUES ('seed', false)");
    thread::sleep(Duration::from_millis(600));
    psql(pg, "UPDATE seed_flags SET done = true");
    let r = finish(child, start, Duration::from_secs(70));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    for reason in [
        "relation \"seed_flags\" does not exist (42P01)",
        "the query returned no rows",
        "the query returned false",
    ] {
        assert!(says(&r.stderr, reason), "{reason}: {r:?}");
    }
    assert!(
        r.stderr.contains(&format!(
            "127.0.0.1:{}/postgres#{query} ready after",
            pg.port
        )),
        "shown as written: {r:?}"
    );
}

fn never_ready(pg: &Pg) {
    for (fragment, reason) in [
        ("query=SELECT false", "the query returned false"),
        (
            "query=SELECT count(*) FROM counts WHERE n > 5",
            "the query returned 0, which counts as false",
        ),
        (
            "table=never_created",
            "relation \"never_created\" does not exist (42P01)",
        ),
        (
            "table=counts_n_idx",
            "\"counts_n_idx\" is not a table or view",
        ),
        ("table=ids", "\"ids\" is not a table or view"),
        ("query=SELECT 1/0", "division by zero (22012)"),
    ] {
        for r in assert_never_ready(&url(pg, fragment), reason) {
            assert_no_secret(&r, PG_PASSWORD);
        }
    }
    // --once: 1 when not true, 0 when true.
    let r = wr(&["--once", &url(pg, "query=SELECT false")]);
    assert_exited(&r, 1);
    let r = wr(&["--once", &url(pg, "query=SELECT true"), "--", "echo", "ran"]);
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    let r = wr(&["--once", &url(pg, "table=counts")]);
    assert_exited(&r, 0);
}

fn permanent_failures(pg: &Pg) {
    let cases = [
        (
            url(pg, "query=SELEC 1"),
            "syntax error at or near \"SELEC\" (42601)",
        ),
        (
            reader_url(pg, "query=SELECT count(*) > 0 FROM secret"),
            "permission denied for table secret (42501)",
        ),
        (
            url(pg, "query=SET search_path TO public"),
            "the statement returns no rows",
        ),
        (url(pg, "query=SELECT $1::bool"), "the query has parameters"),
        (
            url(pg, "table=a.b.c.d"),
            "improper relation name (too many dotted names)",
        ),
    ];
    for (target, reason) in &cases {
        for r in &assert_permanent(target, reason) {
            assert_no_secret(r, PG_PASSWORD);
            assert_no_secret(r, READER_PW);
        }
    }
}

fn writes_cannot_happen(pg: &Pg) {
    for (sql, reason) in [
        (
            "INSERT INTO counts VALUES (1) RETURNING true",
            "cannot execute INSERT in a read-only transaction (25006)",
        ),
        (
            "UPDATE counts SET n = n + 1 RETURNING true",
            "cannot execute UPDATE in a read-only transaction (25006)",
        ),
        (
            "DELETE FROM counts",
            "cannot execute DELETE in a read-only transaction (25006)",
        ),
        (
            "CREATE TABLE evil (x int)",
            "cannot execute CREATE TABLE in a read-only transaction (25006)",
        ),
        (
            "DROP TABLE counts",
            "cannot execute DROP TABLE in a read-only transaction (25006)",
        ),
        (
            "SELECT nextval('ids') > 0",
            "cannot execute nextval() in a read-only transaction (25006)",
        ),
        (
            "COMMIT; INSERT INTO counts VALUES (2)",
            "cannot insert multiple commands into a prepared statement (42601)",
        ),
        (
            "WITH w AS (INSERT INTO counts VALUES (3) RETURNING 1) SELECT true FROM w",
            "in a read-only transaction (25006)",
        ),
    ] {
        let r = wr(&["-t", "30s", &url(pg, &format!("query={sql}"))]);
        assert_exited(&r, 3);
        assert!(r.stderr.contains(reason), "{sql}: {reason}: {r:?}");
    }
    // A statement that ends the transaction runs alone: nothing after it.
    let r = wr(&["--once", &url(pg, "query=COMMIT")]);
    assert_exited(&r, 1);
    assert_eq!(psql(pg, "SELECT count(*), sum(n) FROM counts"), "1|0");
    assert_eq!(psql(pg, "SELECT to_regclass('evil') IS NULL"), "t");
    assert_eq!(psql(pg, "SELECT last_value, is_called FROM ids"), "1|f");
}

fn values(pg: &Pg) {
    for (sql, ready) in [
        ("SELECT 1", true),
        ("SELECT 0", false),
        ("SELECT -3::int8", true),
        ("SELECT 0::int2", false),
        ("SELECT 0.0::numeric", false),
        ("SELECT 2.50::numeric", true),
        ("SELECT 'NaN'::numeric", true),
        ("SELECT 0::float8", false),
        ("SELECT 0.5::float4", true),
        ("SELECT true", true),
        ("SELECT NULL", false),
        ("SELECT NULL::int", false),
        ("SELECT 'no'", false),
        ("SELECT 'off'::text", false),
        ("SELECT 'f'::char", false),
        ("SELECT '0 '::varchar", false),
        ("SELECT ''", false),
        ("SELECT 'done'", true),
        ("SELECT 'false'::jsonb", false),
        ("SELECT 'null'::json", false),
        ("SELECT '{\"a\": 1}'::jsonb", true),
        ("SELECT now()", true),
        ("SELECT ARRAY[0]", true),
        ("SELECT 1 WHERE false", false),
        ("SELECT true, false", true),
        ("SHOW server_version", true),
        ("VALUES (0), (1)", false),
        ("TABLE counts", false),
        ("SELECT x > 2 FROM generate_series(1, 3) x", false),
    ] {
        let r = wr(&["--once", &url(pg, &format!("query={sql}"))]);
        assert_eq!(r.code, if ready { 0 } else { 1 }, "{sql}: {r:?}");
        if !ready {
            assert!(r.stderr.contains("the query returned"), "{sql}: {r:?}");
        }
    }
}

fn bounded(pg: &Pg) {
    // Many rows: one is asked for, so this ends at once.
    let r = wr(&[
        "-t",
        "30s",
        &url(pg, "query=SELECT generate_series(1, 200000000) > 0"),
    ]);
    assert_exited(&r, 0);
    assert!(r.elapsed < Duration::from_secs(10), "{r:?}");
    // A first row of 50 MB: not read past 1 MiB, and said so.
    let m = run_measured(
        whenready().args([
            "--once",
            &url(pg, "query=SELECT true, repeat('x', 50000000)"),
        ]),
        Duration::from_secs(60),
    );
    assert_exited(&m.run, 1);
    assert!(
        m.run.stderr.contains("the server sent over 1024 KiB"),
        "{:?}",
        m.run
    );
    assert_bounded_memory(&m);
    eprintln!("a 50 MB first row: peak {} KiB", m.peak_kib);
}

fn malformed(pg: &Pg) {
    for (fragment, why) in [
        ("query=", "query= needs SQL"),
        ("querry=SELECT 1", "unknown expectation \"querry\""),
        ("query=SELECT 1&table=counts", "one expectation per target"),
        ("table", "needs a value"),
    ] {
        let target = url(pg, fragment);
        let r = wr(&[&target, "--", "echo", "ran"]);
        assert_exited(&r, 2);
        assert!(r.stderr.contains(why), "{fragment}: {r:?}");
        assert!(
            r.stderr.contains(&format!(
                "invalid target \"postgres://app:***@127.0.0.1:{}",
                pg.port
            )),
            "{r:?}"
        );
        assert_no_secret(&r, PG_PASSWORD);
        assert_eq!(r.stdout, "");
    }
}
