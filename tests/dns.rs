//! dns:// targets against a real dnsmasq of our own (records of every type, a hosts
//! file changed while whenready waits, a server down then up, an answer too big for
//! UDP), the system resolver's configuration (resolv.conf in a namespace of the
//! test's own), plus UDP fakes for what a real server will not do (answers with a
//! wrong ID, silence, garbage).

mod common;
use common::dnsmasq::{Dnsmasq, UdpFake};
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn dns(name: &str, query: &str, server: &str) -> String {
    format!("dns://{name}?{query}&{server}")
}

#[test]
fn every_type_is_ready_and_matches_its_expect() {
    let srv = Dnsmasq::started(&[
        "--host-record=db.test,10.0.0.5,fd00::5",
        "--cname=alias.test,db.test",
        "--mx-host=mail.test,mx1.test,10",
        "--txt-record=cfg.test,v=1 ready",
        "--srv-host=_pg._tcp.test,db.test,5432",
    ]);
    let s = srv.server();
    for query in [
        "type=A",
        "type=A&expect=10.0.0.5",
        "type=AAAA&expect=fd00::5",
        "type=aaaa&expect=fd00:0::5",
    ] {
        let r = wr(&["--once", &dns("db.test", query, &s)]);
        assert_exited(&r, 0);
    }
    // A CNAME, and an A through it.
    for (name, query) in [
        ("alias.test", "type=CNAME"),
        ("alias.test", "type=CNAME&expect=db.test"),
        ("alias.test", "type=CNAME&expect=DB.test."),
        ("alias.test", "type=A&expect=10.0.0.5"),
        ("mail.test", "type=MX&expect=mx1.test."),
        ("cfg.test", "type=TXT&expect=v%3D1%20ready"),
        ("_pg._tcp.test", "type=SRV&expect=db.test"),
        ("_pg._tcp.test", "type=SRV&expect=db.test.:5432"),
    ] {
        let r = wr(&["--once", &dns(name, query, &s)]);
        assert_exited(&r, 0);
    }
    // Wrong values, and types the name does not have.
    for (name, query, reason) in [
        ("db.test", "type=A&expect=10.0.0.6", "found 10.0.0.5"),
        ("mail.test", "type=MX&expect=mx2.test", "found 10 mx1.test"),
        ("cfg.test", "type=TXT&expect=v%3D2", "found \"v=1 ready\""),
        (
            "_pg._tcp.test",
            "type=SRV&expect=db.test:5433",
            "5432 db.test",
        ),
        ("cfg.test", "type=A", "NODATA"),
        ("nothing.test", "type=A", "NXDOMAIN"),
    ] {
        let r = wr(&["--once", &dns(name, query, &s)]);
        assert_exited(&r, 1);
        assert!(r.stderr.contains(reason), "{name} {query}: {r:?}");
    }
}

#[test]
fn a_record_that_appears_late_is_waited_for() {
    let srv = Dnsmasq::started(&[]);
    let mut w = Watched::spawn(whenready().args([
        "-t",
        "20s",
        &dns("late.test", "type=A", &srv.server()),
        "--",
        "echo",
        "ran",
    ]));
    let start = Instant::now();
    w.wait_for_line("NXDOMAIN", Duration::from_secs(10));
    srv.set_hosts("10.1.2.3 late.test\n");
    let r = w.finish(start, Duration::from_secs(30));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
}

#[test]
fn a_wrong_value_then_the_right_one() {
    let srv = Dnsmasq::new(&[]);
    srv.set_hosts("10.0.0.1 svc.test\n");
    let mut srv = srv;
    srv.start();
    let mut w = Watched::spawn(whenready().args([
        "-t",
        "20s",
        &dns("svc.test", "type=A&expect=10.0.0.2", &srv.server()),
    ]));
    let start = Instant::now();
    w.wait_for_line("found 10.0.0.1", Duration::from_secs(10));
    srv.set_hosts("10.0.0.2 svc.test\n");
    let r = w.finish(start, Duration::from_secs(30));
    assert_exited(&r, 0);
}

#[test]
fn a_server_that_is_down_then_up() {
    let mut srv = Dnsmasq::new(&["--host-record=up.test,10.9.9.9"]);
    let url = dns("up.test", "type=A", &srv.server());
    let r = wr(&["-t", "1s", &url]);
    assert_exited(&r, 1);
    // Nothing on the UDP port: the kernel's port unreachable.
    assert!(r.stderr.contains("connection refused"), "{r:?}");
    let mut w = Watched::spawn(whenready().args(["-t", "20s", &url]));
    let start = Instant::now();
    w.wait_for_line("connection refused", Duration::from_secs(10));
    srv.start();
    let r = w.finish(start, Duration::from_secs(30));
    assert_exited(&r, 0);
    // Stopped again: --once says so.
    srv.stop();
    assert_exited(&wr(&["--once", &url]), 1);
}

#[test]
fn an_answer_too_big_for_udp_is_asked_again_over_tcp() {
    // Three strings of 200 bytes: over the 512 bytes of a UDP answer without EDNS.
    let parts: Vec<String> = ["a", "b", "c"].iter().map(|c| c.repeat(200)).collect();
    let record = format!("--txt-record=big.test,{}", parts.join(","));
    let srv = Dnsmasq::started(&[&record]);
    let whole = parts.concat();
    let r = wr(&[
        "--once",
        &dns(
            "big.test",
            &format!("type=TXT&expect={whole}"),
            &srv.server(),
        ),
    ]);
    assert_exited(&r, 0);
}

/// An answer to `query` with one A record 10.7.7.7, under `id`.
fn a_answer(query: &[u8], id: [u8; 2]) -> Vec<u8> {
    let mut m = query.to_vec();
    m[0..2].copy_from_slice(&id);
    m[2] = 0x81;
    m[3] = 0x80;
    m[7] = 1; // one answer
    m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 7, 7, 7]);
    m
}

#[test]
fn answers_that_are_not_for_our_query_are_ignored() {
    // Wrong ID first (a spoofing attempt), then the real answer: ready.
    let fake = UdpFake::start(|q| {
        let wrong = [q[0] ^ 0xFF, q[1]];
        vec![a_answer(q, wrong), a_answer(q, [q[0], q[1]])]
    });
    let r = wr(&[
        "--once",
        &format!("dns://x.test?type=A&expect=10.7.7.7&server={}", fake.addr()),
    ]);
    assert_exited(&r, 0);
    // Only wrong IDs: never ready, and no answer is what it says.
    let fake = UdpFake::start(|q| vec![a_answer(q, [q[0] ^ 0xFF, q[1]])]);
    let r = wr(&[
        "--once",
        &format!("dns://x.test?type=A&server={}", fake.addr()),
    ]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("no answer within"), "{r:?}");
    // Another question under the right ID is not ours either.
    let fake = UdpFake::start(|q| {
        let mut a = a_answer(q, [q[0], q[1]]);
        a[13] = b'y'; // y.test instead of x.test
        vec![a]
    });
    let r = wr(&[
        "--once",
        &format!("dns://x.test?type=A&server={}", fake.addr()),
    ]);
    assert_exited(&r, 1);
}

#[test]
fn silence_and_garbage_keep_it_waiting() {
    let silent = UdpFake::start(|_| vec![]);
    let r = wr(&[
        "-t",
        "3s",
        &format!("dns://x.test?server={}", silent.addr()),
    ]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("no answer within"), "{r:?}");
    // The right ID and question, then an answer section that runs off the end.
    let garbage = UdpFake::start(|q| {
        let mut a = a_answer(q, [q[0], q[1]]);
        a.truncate(a.len() - 3);
        vec![a]
    });
    let r = wr(&[
        "-t",
        "1s",
        &format!("dns://x.test?server={}", garbage.addr()),
    ]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("malformed answer"), "{r:?}");
}

#[test]
fn reverse_waits_for_the_record_to_go_not_for_its_server() {
    let mut srv = Dnsmasq::new(&[]);
    srv.set_hosts("10.0.0.1 old.test\n");
    srv.start();
    let url = dns("old.test", "type=A&expect=10.0.0.1", &srv.server());
    let mut w =
        Watched::spawn(whenready().args(["--reverse", "-t", "30s", &url, "--", "echo", "moved"]));
    let start = Instant::now();
    w.wait_for_line("not gone: still answers ready", Duration::from_secs(10));
    // The server goes away: that says nothing of the record.
    srv.stop();
    w.wait_for_line("connection refused", Duration::from_secs(10));
    // It comes back with the name moved: the record is gone.
    srv.set_hosts("10.0.0.2 old.test\n");
    srv.start();
    let r = w.finish(start, Duration::from_secs(40));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "moved\n");
    assert!(
        r.stderr.contains("not gone: 127.0.0.1:")
            && r.stderr.contains("gone after")
            && r.stderr
                .contains("no A record of old.test matches expect (found 10.0.0.2)"),
        "{r:?}"
    );
    // A silent server, and one that answers SERVFAIL, are not the name gone.
    let silent = UdpFake::start(|_| vec![]);
    let servfail = UdpFake::start(|q| {
        let mut m = q.to_vec();
        m[2] = 0x81;
        m[3] = 0x82;
        vec![m]
    });
    for (server, timeout, reason) in [
        (&silent, "3s", "no answer within 2s"),
        (&servfail, "1s", "answered SERVFAIL"),
    ] {
        let r = wr(&[
            "--reverse",
            "-t",
            timeout,
            &format!("dns://x.test?server={}", server.addr()),
        ]);
        assert_exited(&r, 1);
        assert!(
            r.stderr.contains("not gone: ") && r.stderr.contains(reason),
            "{reason}: {r:?}"
        );
    }
    // NXDOMAIN from the real server is gone, at once.
    let r = wr(&[
        "--reverse",
        "--once",
        &dns("nothere.test", "type=A", &srv.server()),
    ]);
    assert_exited(&r, 0);
    assert!(r.stderr.contains("NXDOMAIN"), "{r:?}");
}

#[test]
fn bad_parameters_are_usage_errors_naming_them() {
    for (url, needle) in [
        ("dns://x.test?type=PTR", "PTR"),
        ("dns://x.test?tipe=A", "tipe"),
        ("dns://x.test?type=A&expect=not-an-ip", "not-an-ip"),
        ("dns://x.test?server=1.2.3.4:99999", "99999"),
        ("dns://x.test:53", "server=HOST:PORT"),
        ("dns://x.test#json", "fragment"),
    ] {
        let r = wr(&[url]);
        assert_exited(&r, 2);
        assert!(r.stderr.contains(needle), "{url}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    }
}

/// Without server=, the nameservers of /etc/resolv.conf are asked: here in a
/// network and mount namespace of the test's own, where dnsmasq listens on port 53
/// of a loopback that no one else sees and a resolv.conf of the test's names it.
#[test]
fn without_server_the_system_resolver_configuration_is_used() {
    require("unshare", "util-linux");
    require("ip", "iproute2");
    let srv = Dnsmasq::new(&["--host-record=sys.test,10.4.4.4"]);
    let dir = TempDir::new("resolv");
    let conf = dir.join("resolv.conf");
    std::fs::write(&conf, "# the test's\nnameserver 127.0.0.1\n").unwrap();
    let script = format!(
        "set -e; ip link set lo up; mount --bind {conf} /etc/resolv.conf; \
         {dnsmasq} & d=$!; \
         for i in $(seq 100); do {wr} --once -q dns://sys.test?type=A >/dev/null 2>&1 && break; sleep 0.05; done; \
         {wr} --once dns://sys.test?type=A\\&expect=10.4.4.4; s=$?; kill $d; exit $s",
        conf = conf.display(),
        dnsmasq = shell_line(&srv.command(53)),
        wr = env!("CARGO_BIN_EXE_whenready"),
    );
    let r = run(
        Command::new("unshare").args(["--net", "--mount", "sh", "-c", &script]),
        Duration::from_secs(30),
    );
    assert_exited(&r, 0);
    assert!(r.stderr.contains("ready after"), "{r:?}");
}

/// A command as one shell line (its program and arguments single-quoted).
fn shell_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}
