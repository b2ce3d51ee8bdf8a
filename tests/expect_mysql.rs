//! `mysql://…#query=SQL` and `#table=NAME` against one real MariaDB of our own for
//! the whole binary: ready late (the table and the row come while whenready
//! waits, and a database that appears after the login), never ready, the
//! permanent failures (syntax, permission, writes refused by the read-only
//! transaction, a statement that returns nothing; plain and --json, no password),
//! a write that cannot happen (the data unchanged after INSERT, UPDATE, DELETE,
//! DDL and a second statement), the truth of values of every kind, a huge first
//! column and many rows in bounded memory, `--once`, and malformed fragments.

mod common;
use common::hostile::{assert_bounded_memory, run_measured};
use common::mariadb::{Mariadb, MY_PASSWORD};
use common::*;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// Runs SQL as root over the server's socket; returns its tab-separated output.
fn sql(db: &Mariadb, statements: &str) -> String {
    let out = Command::new("mariadb")
        .arg("--no-defaults")
        .arg(format!("--socket={}", db.socket().display()))
        .args(["-uroot", "-N", "-B", "-e", statements])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mariadb -e {statements}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `app`'s URL on database `app` with this fragment.
fn url(db: &Mariadb, fragment: &str) -> String {
    format!("{}#{fragment}", db.url("app", MY_PASSWORD, "app", ""))
}

/// Whether `stderr` holds `reason`, as plain output writes it or as a JSON string.
#[test]
fn mysql_expectations() {
    let db = Mariadb::started();
    sql(
        &db,
        "CREATE TABLE app.counts (n INT); INSERT INTO app.counts VALUES (0);
         CREATE TABLE other.secret (x INT); INSERT INTO other.secret VALUES (1);
         CREATE TABLE app.bits (b BIT(1)); INSERT INTO app.bits VALUES (b'0');",
    );
    thread::scope(|s| {
        s.spawn(|| ready_late(&db));
        s.spawn(|| never_ready(&db));
        s.spawn(|| permanent_failures(&db));
        s.spawn(|| writes_cannot_happen(&db));
        s.spawn(|| values(&db));
        s.spawn(|| bounded(&db));
        s.spawn(|| malformed(&db));
    });
}

fn ready_late(db: &Mariadb) {
    // #table=: a table in the URL's database, then one in a database of its own
    // that appears later.
    for (fragment, make) in [
        ("table=jobs", "CREATE TABLE app.jobs (id INT)"),
        (
            "table=late_db.`we.ird`",
            "CREATE DATABASE late_db; CREATE TABLE late_db.`we.ird` (id INT)",
        ),
    ] {
        let start = Instant::now();
        let admin = format!(
            "mysql://admin:{MY_PASSWORD}@127.0.0.1:{}/app#{fragment}",
            db.port
        );
        let child = whenready()
            .args(["-t", "60s", &admin, "--", "echo", "ran"])
            .spawn_piped();
        thread::sleep(Duration::from_millis(800));
        sql(db, make);
        let r = finish(child, start, Duration::from_secs(70));
        assert_exited(&r, 0);
        assert_eq!(r.stdout, "ran\n");
        assert!(r.stderr.contains("no table"), "{r:?}");
        assert_no_secret(&r, MY_PASSWORD);
    }
    // #query=: no table (1146), then no row, then 0, then true; shown as written.
    let query = "query=SELECT done FROM app.seed_flags WHERE name = 'seed'";
    let start = Instant::now();
    let child = whenready()
        .args(["-t", "60s", &url(db, query), "--", "echo", "ran"])
        .spawn_piped();
    thread::sleep(Duration::from_millis(600));
    sql(db, "CREATE TABLE app.seed_flags (name TEXT, done BOOL)");
    thread::sleep(Duration::from_millis(600));
    sql(db, "INSERT INTO app.seed_flags VALUES ('seed', false)");
    thread::sleep(Duration::from_millis(600));
    sql(db, "UPDATE app.seed_flags SET done = true");
    let r = finish(child, start, Duration::from_secs(70));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    for reason in [
        "Table 'app.seed_flags' doesn't exist (1146)",
        "the query returned no rows",
        "the query returned \"0\", which counts as false",
    ] {
        assert!(r.stderr.contains(reason), "{reason}: {r:?}");
    }
    assert!(
        r.stderr
            .contains(&format!("127.0.0.1:{}/app#{query} ready after", db.port)),
        "shown as written: {r:?}"
    );
    // An unknown database after the login (1049) is waited for too.
    let start = Instant::now();
    let admin = format!(
        "mysql://admin:{MY_PASSWORD}@127.0.0.1:{}#query=SHOW TABLES FROM later_db",
        db.port
    );
    let child = whenready()
        .args(["-t", "60s", &admin, "--", "echo", "ran"])
        .spawn_piped();
    thread::sleep(Duration::from_millis(800));
    sql(
        db,
        "CREATE DATABASE later_db; CREATE TABLE later_db.t (x INT)",
    );
    let r = finish(child, start, Duration::from_secs(70));
    assert_exited(&r, 0);
    assert!(
        r.stderr.contains("Unknown database 'later_db' (1049)"),
        "{r:?}"
    );
}

fn never_ready(db: &Mariadb) {
    for (fragment, reason) in [
        (
            "query=SELECT 0",
            "the query returned \"0\", which counts as false",
        ),
        (
            "query=SELECT COUNT(*) FROM app.counts WHERE n > 5",
            "the query returned \"0\", which counts as false",
        ),
        ("table=never_created", "no table \"never_created\""),
        ("table=nodb.t", "no table \"nodb.t\""),
    ] {
        for r in assert_never_ready(&url(db, fragment), reason) {
            assert_no_secret(&r, MY_PASSWORD);
        }
    }
    let r = wr(&["--once", &url(db, "query=SELECT 0")]);
    assert_exited(&r, 1);
    let r = wr(&["--once", &url(db, "query=SELECT 1"), "--", "echo", "ran"]);
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    let r = wr(&["--once", &url(db, "table=counts")]);
    assert_exited(&r, 0);
    let r = wr(&["--once", &url(db, "table=app.counts")]);
    assert_exited(&r, 0);
}

fn permanent_failures(db: &Mariadb) {
    let cases = [
        (
            url(db, "query=SELEC 1"),
            "You have an error in your SQL syntax",
        ),
        (
            url(db, "query=SELECT COUNT(*) FROM other.secret"),
            "SELECT command denied to user 'app'@'localhost' for table",
        ),
        (url(db, "query=DO 1"), "the statement returns no rows"),
        (
            format!(
                "mysql://admin:{MY_PASSWORD}@127.0.0.1:{}#query=SELECT COUNT(*) FROM counts",
                db.port
            ),
            "No database selected (1046)",
        ),
    ];
    for (target, reason) in &cases {
        for r in &assert_permanent(target, reason) {
            assert_no_secret(r, MY_PASSWORD);
        }
    }
    // A database missing at the login stays permanent, as without a fragment.
    let r = wr(&[&format!(
        "mysql://admin:{MY_PASSWORD}@127.0.0.1:{}/nope#query=SELECT 1",
        db.port
    )]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("Unknown database 'nope' (1049)"), "{r:?}");
}

fn writes_cannot_happen(db: &Mariadb) {
    const READ_ONLY: &str = "Cannot execute statement in a READ ONLY transaction (1792)";
    let admin = |q: &str| {
        format!(
            "mysql://admin:{MY_PASSWORD}@127.0.0.1:{}/app#query={q}",
            db.port
        )
    };
    for (q, reason) in [
        ("INSERT INTO counts VALUES (1)", READ_ONLY),
        ("UPDATE counts SET n = n + 1", READ_ONLY),
        ("DELETE FROM counts", READ_ONLY),
        ("REPLACE INTO counts VALUES (5)", READ_ONLY),
        ("CREATE TABLE evil (x INT)", READ_ONLY),
        ("DROP TABLE counts", READ_ONLY),
        ("TRUNCATE TABLE counts", READ_ONLY),
        ("ALTER TABLE counts ADD COLUMN y INT", READ_ONLY),
        ("CREATE DATABASE evil_db", READ_ONLY),
        (
            "SELECT 1; DROP TABLE counts",
            "You have an error in your SQL syntax",
        ),
    ] {
        let r = wr(&["-t", "30s", &admin(q)]);
        assert_exited(&r, 3);
        assert!(r.stderr.contains(reason), "{q}: {reason}: {r:?}");
    }
    // Statements that end the transaction or change the session run alone.
    for q in [
        "COMMIT",
        "SET SESSION TRANSACTION READ WRITE",
        "START TRANSACTION READ WRITE",
    ] {
        let r = wr(&["--once", &admin(q)]);
        assert_exited(&r, 1);
    }
    assert_eq!(sql(db, "SELECT COUNT(*), SUM(n) FROM app.counts"), "1\t0");
    assert_eq!(
        sql(
            db,
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'evil'"
        ),
        "0"
    );
    assert_eq!(
        sql(
            db,
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'counts'"
        ),
        "1"
    );
    assert_eq!(sql(db, "SHOW DATABASES LIKE 'evil_db'"), "");
}

fn values(db: &Mariadb) {
    for (q, ready) in [
        ("SELECT 1", true),
        ("SELECT 0", false),
        ("SELECT -2", true),
        ("SELECT 0.00", false),
        ("SELECT 0.5", true),
        ("SELECT TRUE", true),
        ("SELECT FALSE", false),
        ("SELECT NULL", false),
        ("SELECT 'no'", false),
        ("SELECT 'off'", false),
        ("SELECT ''", false),
        ("SELECT 'done'", true),
        ("SELECT b'1'", true),
        ("SELECT b FROM bits", false),
        ("SELECT NOW()", true),
        ("SELECT 1 FROM DUAL WHERE FALSE", false),
        ("SELECT EXISTS (SELECT 1 FROM counts)", true),
        ("SELECT COUNT(*) > 0 FROM counts WHERE n = 9", false),
        ("SELECT seq FROM seq_0_to_5", false),
        ("SHOW TABLES", true),
        ("SELECT 1, NULL", true),
    ] {
        let r = wr(&["--once", &url(db, &format!("query={q}"))]);
        assert_eq!(r.code, if ready { 0 } else { 1 }, "{q}: {r:?}");
    }
}

fn bounded(db: &Mariadb) {
    // Many rows: sql_select_limit sends one; a SHOW (which it does not limit) is
    // read to its end, dropped.
    for q in ["SELECT seq FROM seq_1_to_100000000", "SHOW VARIABLES"] {
        let r = wr(&["-t", "30s", &url(db, &format!("query={q}"))]);
        assert_exited(&r, 0);
        assert!(r.elapsed < Duration::from_secs(10), "{q}: {r:?}");
    }
    // A first column of 10 MB, and one of 10 MB after a false first one: read and
    // dropped as they arrive.
    for (q, code) in [
        ("SELECT REPEAT('x', 10000000)", 0),
        ("SELECT 0, REPEAT('x', 10000000)", 1),
    ] {
        let m = run_measured(
            whenready().args(["--once", &url(db, &format!("query={q}"))]),
            Duration::from_secs(60),
        );
        assert_exited(&m.run, code);
        assert_bounded_memory(&m);
        eprintln!("{q}: peak {} KiB", m.peak_kib);
    }
}

fn malformed(db: &Mariadb) {
    let no_db = format!(
        "mysql://app:{MY_PASSWORD}@127.0.0.1:{}#table=counts",
        db.port
    );
    for (target, why) in [
        (url(db, "query="), "query= needs SQL"),
        (url(db, "tabel=counts"), "unknown expectation \"tabel\""),
        (url(db, "table=a.b.c"), "more than two parts"),
        (url(db, "table=`open"), "a backquote is not closed"),
        (no_db, "needs a database"),
    ] {
        let r = wr(&[&target, "--", "echo", "ran"]);
        assert_exited(&r, 2);
        assert!(r.stderr.contains(why), "{target}: {r:?}");
        assert!(
            r.stderr.contains(&format!(
                "invalid target \"mysql://app:***@127.0.0.1:{}",
                db.port
            )),
            "{r:?}"
        );
        assert_no_secret(&r, MY_PASSWORD);
        assert_eq!(r.stdout, "");
    }
}
