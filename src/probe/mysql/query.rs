//! A mysql target's `#query=SQL` and `#table=NAME`, run after the login in the
//! text protocol (COM_QUERY), and its result read through limits.
//!
//! Read-only: `SET SESSION TRANSACTION READ ONLY`, then `START TRANSACTION READ
//! ONLY`, then the statement; the session ends without a commit. The server refuses
//! INSERT, UPDATE, DELETE and REPLACE on every table that is not temporary, and
//! CREATE, ALTER, DROP, RENAME and TRUNCATE (1792, "Cannot execute statement in a
//! READ ONLY transaction", shown as the server says it, exit 3). The session's
//! characteristic is what stops DDL: a DDL statement first commits the open
//! transaction, and the implicit transaction it then runs in is read-only only
//! because the session's are. One statement only: the login does not ask for
//! CLIENT_MULTI_STATEMENTS, so `SELECT 1; DROP TABLE t` is a syntax error. Not
//! stopped (MySQL's limits): writes to temporary tables, and a stored procedure
//! that starts a READ WRITE transaction of its own (`CALL p()`); an account that
//! may only read is the guarantee for those.
//!
//! Bounded: `sql_select_limit = 1` makes the server send one row of a SELECT; of
//! the first row, the first column's first [`sql::KEEP`] bytes are kept and the
//! rest of the row is read and dropped without being held (a value of any size, a
//! row split over packets of 16 MiB); what follows (rows of a SHOW, which the limit
//! does not cut) is read up to [`DRAIN_MAX`] bytes, after which the connection is
//! closed instead.
//!
//! Failures: a table, database, column or function that does not exist yet (1146,
//! 1049, 1054, 1305) is transient, since migrations may not have run; a syntax
//! error (1064, 1149), a permission error (1044, 1142, 1143, 1227, 1370), a write
//! refused (1792, 1290), no database selected (1046) and an unsupported statement
//! (1235) are permanent; the rest is transient.

use super::packet::*;
use crate::probe::error::{ProbeError, Transience};
use crate::probe::sql::{self, Expectation, Seen, Verdict};
use tokio::io::AsyncReadExt;

const COM_QUERY: u8 = 0x03;
/// MYSQL_TYPE_BIT: sent as raw bytes (b'0' is one zero byte), not as text.
const TYPE_BIT: u8 = 16;
/// How much of what follows the first row is read (and dropped) so that the
/// session can end with COM_QUIT; past it, the connection is just closed.
pub const DRAIN_MAX: usize = 1 << 20;
/// The most columns a result may announce (MySQL's and MariaDB's limit is 4096).
const MAX_COLUMNS: u64 = 1 << 16;

/// The statement a mysql target runs, and what its reasons name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The SQL sent.
    pub sql: String,
    /// For `#table=`: the name as given, for the reason.
    pub table: Option<String>,
}

impl Expect {
    /// The statement for an expectation; `database` is the URL's, which an
    /// unqualified `#table=NAME` needs. The error says why not.
    pub fn new(e: Expectation, database: Option<&str>) -> Result<Expect, String> {
        match e {
            Expectation::Query(sql) => Ok(Expect { sql, table: None }),
            Expectation::Table(given) => {
                let (schema, name) = table_name(&given)?;
                let schema = match (schema, database) {
                    (Some(s), _) => literal(&s),
                    (None, Some(db)) => literal(db),
                    (None, None) => {
                        return Err(format!(
                            "table={given} needs a database: name it in the URL (mysql://HOST/DB) or write table=DB.{given}"
                        ))
                    }
                };
                Ok(Expect {
                    sql: format!(
                        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {schema} AND table_name = {}",
                        literal(&name)
                    ),
                    table: Some(given),
                })
            }
        }
    }
}

/// `NAME` or `DB.NAME`, each part bare or in backquotes (`` `a.b` ``, with `` `` ``
/// for a backquote inside).
fn table_name(given: &str) -> Result<(Option<String>, String), String> {
    let bad = |why: &str| {
        format!(
            "invalid table={given}: {why} (write NAME or DB.NAME, `…` around a name with a dot)"
        )
    };
    let mut parts = Vec::new();
    let mut rest = given.trim();
    loop {
        let (part, after) = if let Some(quoted) = rest.strip_prefix('`') {
            let mut part = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err(bad("a backquote is not closed")),
                    Some((i, '`')) if quoted[i + 1..].starts_with('`') => {
                        part.push('`');
                        chars.next();
                    }
                    Some((i, '`')) => break i + 1,
                    Some((_, c)) => part.push(c),
                }
            };
            (part, &quoted[end..])
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            (rest[..end].trim().to_string(), &rest[end..])
        };
        if part.is_empty() {
            return Err(bad("an empty name"));
        }
        parts.push(part);
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None if after.trim().is_empty() => break,
            None => return Err(bad("text after a quoted name")),
        }
    }
    match <[String; 2]>::try_from(parts) {
        Ok([schema, name]) => Ok((Some(schema), name)),
        Err(parts) if parts.len() == 1 => Ok((None, parts.into_iter().next().unwrap_or_default())),
        Err(_) => Err(bad("more than two parts")),
    }
}

/// A string literal that no text can break out of: hexadecimal, read as utf8mb4.
fn literal(text: &str) -> String {
    let hex: String = text.bytes().map(|b| format!("{b:02X}")).collect();
    format!("CONVERT(X'{hex}' USING utf8mb4)")
}

/// Runs the expectation on a logged-in connection, then ends the session.
pub(super) async fn check(conn: &mut Conn, e: &Expect) -> Result<(), ProbeError> {
    for sql in [
        "SET SESSION TRANSACTION READ ONLY",
        "SET SESSION sql_select_limit = 1",
        "START TRANSACTION READ ONLY",
    ] {
        query(conn, sql).await?;
        let p = conn.read().await?;
        match p.first() {
            Some(0x00) => {}
            Some(0xFF) => return Err(query_error(&p)),
            _ => return Err(garbage("an unexpected answer to SET")),
        }
    }
    query(conn, &e.sql).await?;
    let (verdict, drained) = result(conn).await?;
    if drained {
        let _ = conn.command(&[COM_QUIT]).await;
    }
    let shown = |name: &str| sql::no_table(name);
    match (verdict, &e.table) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(name)) => Err(ProbeError::transient(shown(name))),
        (Err(seen), None) => Err(ProbeError::transient(sql::not_true(&seen))),
    }
}

async fn query(conn: &mut Conn, sql: &str) -> Result<(), ProbeError> {
    let mut packet = Vec::with_capacity(1 + sql.len());
    packet.push(COM_QUERY);
    packet.extend_from_slice(sql.as_bytes());
    if packet.len() >= 0xFF_FFFF {
        return Err(ProbeError::permanent("the query is over 16 MiB"));
    }
    conn.command(&packet).await
}

/// An ERR packet in answer to a statement, classified by [`classify_query`].
fn query_error(p: &[u8]) -> ProbeError {
    let e = server_error(p);
    let code = p.get(1..3).map_or(0, |c| u16::from_le_bytes([c[0], c[1]]));
    ProbeError::new(classify_query(code), e.reason)
}

/// The classification table for a statement's error codes (the module's comment
/// says why).
pub fn classify_query(code: u16) -> Transience {
    match code {
        // ER_NO_SUCH_TABLE, ER_BAD_DB_ERROR, ER_BAD_FIELD_ERROR, ER_SP_DOES_NOT_EXIST.
        1146 | 1049 | 1054 | 1305 => Transience::Transient,
        // ER_PARSE_ERROR, ER_SYNTAX_ERROR; ER_DBACCESS_DENIED_ERROR,
        // ER_ACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR,
        // ER_COLUMNACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR,
        // ER_PROCACCESS_DENIED_ERROR; ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION,
        // ER_OPTION_PREVENTS_STATEMENT (--read-only); ER_NO_DB_ERROR;
        // ER_NOT_SUPPORTED_YET; ER_NOT_ALLOWED_COMMAND.
        1064 | 1149 | 1044 | 1045 | 1142 | 1143 | 1227 | 1370 | 1792 | 1290 | 1046 | 1235
        | 1148 => Transience::Permanent,
        _ => Transience::Transient,
    }
}

/// Reads a statement's result: the verdict on its first row, and whether the whole
/// result was read (so that COM_QUIT can follow).
async fn result(conn: &mut Conn) -> Result<(Verdict, bool), ProbeError> {
    let p = conn.read().await?;
    let columns = match p.first() {
        Some(0x00) => {
            return Err(ProbeError::permanent(
                "the statement returns no rows: a #query= is a query, e.g. SELECT COUNT(*) > 0 FROM jobs",
            ))
        }
        Some(0xFF) => return Err(query_error(&p)),
        _ => match lenenc_int(&mut Reader(&p)) {
            Some(n) if (1..=MAX_COLUMNS).contains(&n) => n,
            _ => return Err(garbage("a result without columns")),
        },
    };
    let mut first_type = 0;
    for i in 0..columns {
        let p = conn.read().await?;
        if i == 0 {
            first_type = column_type(&p).ok_or_else(|| garbage("a bad column definition"))?;
        }
    }
    // The EOF packet after the definitions (no CLIENT_DEPRECATE_EOF was asked for).
    let p = conn.read().await?;
    if !is_eof(&p) {
        return Err(garbage("no EOF after the column definitions"));
    }
    let mut row = Packets::start(conn).await?;
    let verdict = match row.peek() {
        Some(0xFE) if row.len < 9 => {
            let _ = row.skip_all().await;
            return Ok((Err(Seen::NoRow), true));
        }
        Some(0xFF) => {
            let mut p = Vec::new();
            row.read_upto(&mut p, MAX_PACKET).await?;
            return Err(query_error(&p));
        }
        _ => {
            let verdict = first_value(&mut row, first_type).await?;
            row.skip_all().await?;
            verdict
        }
    };
    Ok((verdict, drain(conn).await?))
}

/// The verdict on the first column of a row being read.
async fn first_value(row: &mut Packets<'_>, ty: u8) -> Result<Verdict, ProbeError> {
    let bad = || garbage("a bad row");
    let len: u64 = match row.byte().await?.ok_or_else(bad)? {
        0xFB => return Ok(Err(Seen::Null)),
        0xFC => row.le(2).await?,
        0xFD => row.le(3).await?,
        0xFE => row.le(8).await?,
        0xFF => return Err(bad()),
        n => u64::from(n),
    };
    let keep = usize::try_from(len).map_or(sql::KEEP + 1, |l| l.min(sql::KEEP + 1));
    let mut value = Vec::with_capacity(keep);
    row.read_upto(&mut value, keep).await?;
    if (value.len() as u64) < len.min(keep as u64) {
        return Err(bad());
    }
    if ty == TYPE_BIT && value.len() <= 8 {
        return Ok(match value.iter().all(|&b| b == 0) {
            true => Err(Seen::False("0".into())),
            false => Ok(()),
        });
    }
    Ok(sql::text_truth(&value))
}

/// Reads what follows the first row, dropped, up to its EOF or ERR packet: true
/// when it ended within [`DRAIN_MAX`] bytes.
async fn drain(conn: &mut Conn) -> Result<bool, ProbeError> {
    let mut budget = DRAIN_MAX;
    loop {
        let mut p = Packets::start(conn).await?;
        let end = (p.peek() == Some(0xFE) && p.len < 9) || p.peek() == Some(0xFF);
        let Some(left) = budget.checked_sub(p.len) else {
            return Ok(false);
        };
        budget = left;
        p.skip_all().await?;
        if end {
            return Ok(true);
        }
    }
}

/// The type of a ColumnDefinition41: six length-encoded strings, the length of the
/// fixed fields, character set (2), length (4), then the type.
fn column_type(p: &[u8]) -> Option<u8> {
    let mut r = Reader(p);
    for _ in 0..6 {
        let n = usize::try_from(lenenc_int(&mut r)?).ok()?;
        r.take(n)?;
    }
    let _fixed = lenenc_int(&mut r)?;
    r.take(6)?;
    r.u8()
}

fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xFE) && p.len() < 9
}

/// A length-encoded integer.
fn lenenc_int(r: &mut Reader<'_>) -> Option<u64> {
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |n, &x| n << 8 | u64::from(x));
    match r.u8()? {
        0xFC => r.take(2).map(le),
        0xFD => r.take(3).map(le),
        0xFE => r.take(8).map(le),
        0xFB | 0xFF => None,
        n => Some(u64::from(n)),
    }
}

/// One logical packet read as it arrives, across the continuation packets of a
/// payload of 16 MiB or more, so that a row of any size is never held whole.
struct Packets<'c> {
    conn: &'c mut Conn,
    /// This physical packet's length, and what is left of it.
    len: usize,
    left: usize,
    /// A byte read ahead by [`Packets::peek`].
    ahead: Option<u8>,
}

impl<'c> Packets<'c> {
    async fn start(conn: &'c mut Conn) -> Result<Packets<'c>, ProbeError> {
        let (len, ahead) = header(conn).await?;
        Ok(Packets {
            conn,
            len,
            left: len - usize::from(ahead.is_some()),
            ahead,
        })
    }

    /// The first byte of the packet, if it has one.
    fn peek(&self) -> Option<u8> {
        self.ahead
    }

    /// Moves to the next physical packet when this one is used up and was full.
    async fn more(&mut self) -> Result<bool, ProbeError> {
        while self.left == 0 {
            if self.len < 0xFF_FFFF {
                return Ok(false);
            }
            let (len, ahead) = header(self.conn).await?;
            self.len = len;
            self.left = len - usize::from(ahead.is_some());
            if let Some(b) = ahead {
                self.ahead = Some(b);
                return Ok(true);
            }
        }
        Ok(true)
    }

    async fn byte(&mut self) -> Result<Option<u8>, ProbeError> {
        if let Some(b) = self.ahead.take() {
            return Ok(Some(b));
        }
        if !self.more().await? {
            return Ok(None);
        }
        if let Some(b) = self.ahead.take() {
            return Ok(Some(b));
        }
        let b = self.conn.io.read_u8().await.map_err(io_err)?;
        self.left -= 1;
        Ok(Some(b))
    }

    /// A little-endian integer of `n` bytes.
    async fn le(&mut self, n: usize) -> Result<u64, ProbeError> {
        let mut v = 0u64;
        for i in 0..n {
            let b = self.byte().await?.ok_or_else(|| garbage("a bad length"))?;
            v |= u64::from(b) << (8 * i);
        }
        Ok(v)
    }

    /// Appends up to `max` bytes of the packet to `into`.
    async fn read_upto(&mut self, into: &mut Vec<u8>, max: usize) -> Result<(), ProbeError> {
        while into.len() < max {
            let Some(b) = self.byte().await? else {
                return Ok(());
            };
            into.push(b);
            let n = self.left.min(max - into.len());
            let start = into.len();
            into.resize(start + n, 0);
            self.conn
                .io
                .read_exact(&mut into[start..])
                .await
                .map_err(io_err)?;
            self.left -= n;
        }
        Ok(())
    }

    /// Reads the rest of the packet, dropped.
    async fn skip_all(&mut self) -> Result<(), ProbeError> {
        self.ahead = None;
        let mut buf = [0u8; 8192];
        while self.more().await? {
            self.ahead = None;
            let n = self.left.min(buf.len());
            self.conn
                .io
                .read_exact(&mut buf[..n])
                .await
                .map_err(io_err)?;
            self.left -= n;
        }
        Ok(())
    }
}

/// A packet's header (its length; the sequence is noted) and its first byte.
async fn header(conn: &mut Conn) -> Result<(usize, Option<u8>), ProbeError> {
    let mut h = [0u8; 4];
    conn.io.read_exact(&mut h).await.map_err(io_err)?;
    let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
    conn.seq = h[3].wrapping_add(1);
    let first = match len {
        0 => None,
        _ => Some(conn.io.read_u8().await.map_err(io_err)?),
    };
    Ok((len, first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::mysql::fake::*;
    use tokio::io::{AsyncWriteExt, DuplexStream};

    /// Packets of `payload` from sequence `seq` on, split as MySQL splits one of
    /// 16 MiB or more.
    fn framed(payload: &[u8], mut seq: u8) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chunks: Vec<&[u8]> = payload.chunks(0xFF_FFFF).collect();
        if payload.len().is_multiple_of(0xFF_FFFF) {
            chunks.push(&[]);
        }
        for c in chunks {
            out.extend_from_slice(&(c.len() as u32).to_le_bytes()[..3]);
            out.push(seq);
            out.extend_from_slice(c);
            seq = seq.wrapping_add(1);
        }
        out
    }

    fn column(ty: u8) -> Vec<u8> {
        let mut p = Vec::new();
        for s in ["def", "", "", "", "c", ""] {
            p.push(s.len() as u8);
            p.extend_from_slice(s.as_bytes());
        }
        p.push(0x0c);
        p.extend_from_slice(&[45, 0, 1, 0, 0, 0, ty, 0, 0, 0, 0, 0]);
        p
    }

    const EOF: &[u8] = &[0xFE, 0, 0, 2, 0];

    /// A result set of one column of type `ty` and these rows (each a payload).
    fn result_set(ty: u8, rows: &[Vec<u8>]) -> Vec<u8> {
        let mut out = framed(&[1], 1);
        out.extend(framed(&column(ty), 2));
        out.extend(framed(EOF, 3));
        let mut seq = 4u8;
        for r in rows {
            out.extend(framed(r, seq));
            seq = seq.wrapping_add(1 + (r.len() / 0xFF_FFFF) as u8);
        }
        out.extend(framed(EOF, seq));
        out
    }

    /// A row of length-encoded values (None: NULL).
    fn row(values: &[Option<&[u8]>]) -> Vec<u8> {
        let mut p = Vec::new();
        for v in values {
            match v {
                None => p.push(0xFB),
                Some(v) => {
                    lenenc(&mut p, v.len());
                    p.extend_from_slice(v);
                }
            }
        }
        p
    }

    /// A server that logs the client in, answers the three SETs, checks the query
    /// and sends `answer`.
    async fn serve(mut s: DuplexStream, sql: &'static str, answer: Vec<u8>) {
        send(&mut s, 0, &greeting("mysql_native_password", SERVER_CAPS)).await;
        let _ = recv(&mut s).await;
        send(&mut s, 2, OK).await;
        for want in [
            "SET SESSION TRANSACTION READ ONLY",
            "SET SESSION sql_select_limit = 1",
            "START TRANSACTION READ ONLY",
        ] {
            let (_, p) = recv(&mut s).await;
            assert_eq!(&p[1..], want.as_bytes());
            send(&mut s, 1, OK).await;
        }
        let (seq, p) = recv(&mut s).await;
        assert_eq!((seq, p[0], &p[1..]), (0, COM_QUERY, sql.as_bytes()));
        let _ = s.write_all(&answer).await;
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    }

    async fn ask(sql: &'static str, answer: Vec<u8>) -> Result<(), ProbeError> {
        let mut t = target(Some("pw"), Some("app"));
        t.expect = Some(Expect::new(Expectation::Query(sql.into()), Some("app")).unwrap());
        against(t, move |s| serve(s, sql, answer)).await
    }

    #[tokio::test]
    async fn first_columns_are_judged() {
        let one = |v: Option<&[u8]>| result_set(253, &[row(&[v])]);
        assert_eq!(ask("SELECT 1", one(Some(b"1"))).await, Ok(()));
        let e = ask("SELECT 0", one(Some(b"0"))).await.unwrap_err();
        assert_eq!(
            (e.is_permanent(), &*e.reason),
            (false, "the query returned \"0\", which counts as false")
        );
        let e = ask("SELECT NULL", one(None)).await.unwrap_err();
        assert_eq!(&*e.reason, "the query returned NULL");
        let e = ask("SELECT 1 FROM t", result_set(3, &[]))
            .await
            .unwrap_err();
        assert_eq!(&*e.reason, "the query returned no rows");
        let bit = |b: u8| result_set(TYPE_BIT, &[row(&[Some(&[b])])]);
        assert!(ask("SELECT b'0'", bit(0)).await.is_err());
        assert_eq!(ask("SELECT b'1'", bit(1)).await, Ok(()));
        // Rows past the first (a SHOW, which sql_select_limit does not cut) are read
        // and dropped.
        let many: Vec<Vec<u8>> = (0..1000).map(|_| row(&[Some(b"0")])).collect();
        assert!(ask("SHOW TABLES", result_set(253, &many)).await.is_err());
    }

    #[tokio::test]
    async fn a_row_of_any_size_is_read_through_continuation_packets() {
        // 40 MiB in the second column after a false first one, split over three
        // packets of 16 MiB: read to its end, never held.
        let big = vec![b'x'; 40 << 20];
        let answer = result_set(253, &[row(&[Some(b"0"), Some(&big)])]);
        drop(big);
        let e = ask("SELECT 0, x", answer).await.unwrap_err();
        assert_eq!(
            &*e.reason,
            "the query returned \"0\", which counts as false"
        );
        // A first column of 20 MiB: true, its start only kept.
        let big = vec![b'y'; 20 << 20];
        let answer = result_set(253, &[row(&[Some(&big)])]);
        drop(big);
        assert_eq!(ask("SELECT y", answer).await, Ok(()));
        // A payload of exactly 16 MiB - 1 ends with an empty packet.
        let exact = vec![b'z'; 0xFF_FFFF - 4];
        let answer = result_set(253, &[row(&[Some(&exact)])]);
        assert_eq!(ask("SELECT z", answer).await, Ok(()));
    }

    #[tokio::test]
    async fn statement_errors_are_classified() {
        let err = |code: u16, text: &str| {
            let mut p = vec![0xFF];
            p.extend_from_slice(&code.to_le_bytes());
            p.extend_from_slice(b"#42S02");
            p.extend_from_slice(text.as_bytes());
            framed(&p, 1)
        };
        let e = ask("SELECT * FROM t", err(1146, "Table 'app.t' doesn't exist"))
            .await
            .unwrap_err();
        assert_eq!(
            (e.is_permanent(), &*e.reason),
            (false, "Table 'app.t' doesn't exist (1146)")
        );
        let e = ask(
            "SELECT 1 FROM other.t",
            err(1049, "Unknown database 'other'"),
        )
        .await
        .unwrap_err();
        assert!(!e.is_permanent(), "{e:?}");
        let e = ask("SELEC 1", err(1064, "You have an error in your SQL syntax"))
            .await
            .unwrap_err();
        assert!(e.is_permanent(), "{e:?}");
        let e = ask(
            "INSERT INTO t VALUES (1)",
            err(1792, "Cannot execute statement in a READ ONLY transaction"),
        )
        .await
        .unwrap_err();
        assert!(e.is_permanent(), "{e:?}");
        let e = ask("DO 1", framed(OK, 1)).await.unwrap_err();
        assert!(
            e.is_permanent() && e.reason.contains("returns no rows"),
            "{e:?}"
        );
    }

    #[test]
    fn table_names() {
        let t = |s: &str| table_name(s);
        assert_eq!(t("users"), Ok((None, "users".into())));
        assert_eq!(t("app.users"), Ok((Some("app".into()), "users".into())));
        assert_eq!(
            t("`my.db`.`we``ird`"),
            Ok((Some("my.db".into()), "we`ird".into()))
        );
        for bad in ["a.b.c", "`open", "a.", ".b", "`a`x", ""] {
            assert!(t(bad).is_err(), "{bad}");
        }
        let e = Expect::new(Expectation::Table("users".into()), None).unwrap_err();
        assert!(e.contains("needs a database"), "{e}");
        let e = Expect::new(Expectation::Table("a'b".into()), Some("app")).unwrap();
        assert_eq!(
            e.sql,
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = CONVERT(X'617070' USING utf8mb4) AND table_name = CONVERT(X'612762' USING utf8mb4)"
        );
    }

    #[test]
    fn classification_table() {
        for code in [1146, 1049, 1054, 1305, 1205, 1213, 1040, 1365] {
            assert_eq!(classify_query(code), Transience::Transient, "{code}");
        }
        for code in [1064, 1149, 1142, 1143, 1044, 1227, 1792, 1290, 1046] {
            assert_eq!(classify_query(code), Transience::Permanent, "{code}");
        }
    }

    #[test]
    fn column_definitions() {
        let mut p = Vec::new();
        for s in ["def", "", "", "", "x", ""] {
            p.push(s.len() as u8);
            p.extend_from_slice(s.as_bytes());
        }
        p.push(0x0c);
        p.extend_from_slice(&[45, 0, 1, 0, 0, 0, TYPE_BIT, 0, 0, 0, 0, 0]);
        assert_eq!(column_type(&p), Some(TYPE_BIT));
        for n in 0..p.len() - 6 {
            assert_eq!(column_type(&p[..n]), None);
        }
    }
}
