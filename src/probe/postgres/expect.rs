//! A postgres target's `#query=SQL` and `#table=NAME`, run after the login.
//!
//! Read-only: the statement runs inside `START TRANSACTION READ ONLY`, which is
//! rolled back after it, so that PostgreSQL refuses INSERT, UPDATE, DELETE, MERGE,
//! every CREATE, ALTER and DROP, TRUNCATE, GRANT, nextval() and setval()
//! (SQLSTATE 25006, shown as the server says it, exit 3). The statement goes
//! through the extended protocol (Parse, Bind, Execute), which takes one statement
//! only: `COMMIT; INSERT …` is a syntax error, so no statement runs outside the
//! transaction. Not stopped by a read-only transaction (PostgreSQL's limits): writes
//! to temporary tables, and functions that act outside the database (`dblink`,
//! `COPY … TO PROGRAM`, `pg_terminate_backend`, advisory locks, NOTIFY). A role
//! that may only read is the guarantee for those.
//!
//! Bounded: the statement runs in a portal that is asked for one row (`Execute`
//! with a row limit of 1), so the server sends at most one, whatever the SQL; the
//! session reads at most [`super::capped::SESSION_MAX`] bytes in all, so a huge
//! first row ends the attempt instead of growing memory.
//!
//! Failures: a table, schema, column, function or type that does not exist yet
//! (42P01, 3F000, 42703, 42883, 42704) is transient, since migrations may not have
//! run; a syntax error, a permission error and the rest of class 42, a write
//! refused by the read-only transaction (25006) and an unsupported feature (0A000)
//! are permanent; everything else (a division by zero in the data, a
//! serialization failure) is transient.

use super::classify;
use crate::probe::error::{ProbeError, Transience};
use crate::probe::sql::{self, Expectation, Seen, Verdict};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::Client;

/// `#table=NAME`: the relation exists (a missing one fails the `regclass` cast with
/// 42P01, a missing schema with 3F000, both transient) and is a table, a
/// partitioned table, a view, a materialized view or a foreign table. The name is
/// read as SQL reads one: unquoted parts fold to lowercase, `"Name"` keeps its case,
/// and an unqualified name follows `search_path`.
const TABLE_SQL: &str = "SELECT c.relkind IN ('r', 'p', 'v', 'm', 'f') FROM pg_catalog.pg_class c WHERE c.oid = $1::text::regclass";

/// Runs the expectation on a logged-in client.
pub async fn check(client: &mut Client, expectation: &Expectation) -> Result<(), ProbeError> {
    let tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .map_err(|e| failure(&e))?;
    let (sql, params): (&str, Vec<&(dyn ToSql + Sync)>) = match expectation {
        Expectation::Query(sql) => (sql, Vec::new()),
        Expectation::Table(name) => (TABLE_SQL, vec![name]),
    };
    let verdict = async {
        let statement = tx.prepare(sql).await.map_err(|e| failure(&e))?;
        if statement.params().len() != params.len() {
            return Err(ProbeError::permanent(
                "the query has parameters ($1, …): a #query= takes none",
            ));
        }
        let portal = tx.bind(&statement, &params).await.map_err(|e| failure(&e))?;
        // One row at most: the portal is suspended after it.
        let rows = tx
            .query_portal(&portal, 1)
            .await
            .map_err(|e| failure(&e))?;
        let verdict = match rows.first() {
            None if statement.columns().is_empty() => {
                return Err(ProbeError::permanent(
                    "the statement returns no rows: a #query= is a query, e.g. SELECT count(*) > 0 FROM jobs",
                ))
            }
            None => Err(Seen::NoRow),
            Some(row) => judge(row),
        };
        Ok(verdict)
    }
    .await;
    // Nothing to keep: the transaction was read-only. A failed rollback changes
    // nothing either (the session ends next).
    let _ = tx.rollback().await;
    match (verdict?, expectation) {
        (Ok(()), _) => Ok(()),
        (Err(Seen::NoRow), Expectation::Table(name)) => {
            Err(ProbeError::transient(sql::no_table(name)))
        }
        (Err(_), Expectation::Table(name)) => Err(ProbeError::transient(format!(
            "{} is not a table or view",
            crate::probe::redis::resp::shown(name.as_bytes(), 100)
        ))),
        (Err(seen), Expectation::Query(_)) => Err(ProbeError::transient(sql::not_true(&seen))),
    }
}

/// A failure of the expectation's statement: the server's message, classified by
/// [`classify_query`]; anything else as [`classify`] says.
fn failure(e: &tokio_postgres::Error) -> ProbeError {
    match e.as_db_error() {
        Some(db) => {
            let reason = format!("{} ({})", db.message(), db.code().code());
            ProbeError::new(classify_query(db.code()), reason)
        }
        None => classify(e),
    }
}

/// The classification table for a statement's SQLSTATE (the module's comment says
/// why).
pub fn classify_query(code: &SqlState) -> Transience {
    let text = code.code();
    match *code {
        SqlState::UNDEFINED_TABLE
        | SqlState::INVALID_SCHEMA_NAME
        | SqlState::UNDEFINED_COLUMN
        | SqlState::UNDEFINED_FUNCTION
        | SqlState::UNDEFINED_OBJECT => Transience::Transient,
        SqlState::READ_ONLY_SQL_TRANSACTION | SqlState::FEATURE_NOT_SUPPORTED => {
            Transience::Permanent
        }
        _ if text.starts_with("42") => Transience::Permanent,
        _ => super::classify_code(code),
    }
}

/// A column's value as the server sent it (binary format), whatever its type.
struct Cell<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Cell<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Cell(Some(raw)))
    }
    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Cell(None))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// The truth of a row's first column.
fn judge(row: &tokio_postgres::Row) -> Verdict {
    let Some(column) = row.columns().first() else {
        return Err(Seen::NoRow);
    };
    let Ok(Cell(value)) = row.try_get::<_, Cell>(0) else {
        return Err(Seen::Null);
    };
    let Some(raw) = value else {
        return Err(Seen::Null);
    };
    truth(column.type_(), raw)
}

/// The truth of a value in PostgreSQL's binary format: `bool` as it is, numbers
/// against zero, text (and JSON) by the text rule ([`sql::text_truth`]), any other
/// type true when not NULL.
pub fn truth(ty: &Type, raw: &[u8]) -> Verdict {
    let zero = |shown: &str| Err(Seen::False(shown.into()));
    match *ty {
        Type::BOOL => match raw.first() {
            Some(0) => zero("false"),
            _ => Ok(()),
        },
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => match raw.iter().all(|&b| b == 0) {
            true => zero("0"),
            false => Ok(()),
        },
        Type::FLOAT4 | Type::FLOAT8 => {
            let value = match raw.len() {
                4 => f64::from(f32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]])),
                8 => f64::from_be_bytes(raw.try_into().unwrap_or([1; 8])),
                _ => 1.0,
            };
            match value == 0.0 {
                true => zero("0"),
                false => Ok(()),
            }
        }
        // ndigits (i16), weight, sign (0 positive, 0x4000 negative, 0xC000 NaN,
        // 0xD000/0xF000 infinities), dscale, digits: no digits and a sign is zero.
        Type::NUMERIC => match raw {
            [0, 0, _, _, 0x00 | 0x40, 0, ..] => zero("0"),
            _ => Ok(()),
        },
        Type::TEXT
        | Type::VARCHAR
        | Type::BPCHAR
        | Type::NAME
        | Type::CHAR
        | Type::UNKNOWN
        | Type::JSON => json_or_text(raw),
        // jsonb: a version byte (1), then the text.
        Type::JSONB => json_or_text(raw.get(1..).unwrap_or_default()),
        _ if ty.name() == "citext" => sql::text_truth(raw),
        _ => Ok(()),
    }
}

/// Text by the text rule; JSON's `null` (which is no SQL NULL) is false too.
fn json_or_text(raw: &[u8]) -> Verdict {
    if raw.trim_ascii() == b"null" {
        return Err(Seen::False("null".into()));
    }
    sql::text_truth(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_values_are_judged_by_type() {
        let t = |ty: Type, raw: &[u8]| truth(&ty, raw).is_ok();
        assert!(t(Type::BOOL, &[1]) && !t(Type::BOOL, &[0]));
        assert!(t(Type::INT4, &[0, 0, 0, 2]) && !t(Type::INT4, &[0, 0, 0, 0]));
        assert!(t(Type::INT8, &[0xff; 8]) && !t(Type::INT8, &[0; 8]));
        assert!(t(Type::INT2, &[0, 1]) && !t(Type::INT2, &[0, 0]));
        assert!(t(Type::FLOAT8, &0.5f64.to_be_bytes()));
        assert!(!t(Type::FLOAT8, &(-0.0f64).to_be_bytes()));
        assert!(!t(Type::FLOAT4, &0.0f32.to_be_bytes()));
        assert!(t(Type::FLOAT8, &f64::NAN.to_be_bytes()));
        // numeric 0, -0 and 0.00 (no digits), 1 (one digit), NaN.
        assert!(!t(Type::NUMERIC, &[0, 0, 0, 0, 0, 0, 0, 0]));
        assert!(!t(Type::NUMERIC, &[0, 0, 0, 0, 0, 0, 0, 2]));
        assert!(t(Type::NUMERIC, &[0, 1, 0, 0, 0, 0, 0, 0, 0, 1]));
        assert!(t(Type::NUMERIC, &[0, 0, 0, 0, 0xC0, 0, 0, 0]));
        assert!(!t(Type::TEXT, b"no") && t(Type::TEXT, b"done"));
        assert!(!t(Type::BPCHAR, b"0   ") && t(Type::VARCHAR, b"t"));
        assert!(!t(Type::JSON, b" null ") && !t(Type::JSON, b"false"));
        assert!(!t(Type::JSONB, b"\x01false") && t(Type::JSONB, b"\x01{}"));
        assert!(t(Type::TIMESTAMPTZ, &[0; 8]) && t(Type::BYTEA, b""));
        assert_eq!(truth(&Type::BOOL, &[0]), Err(Seen::False("false".into())));
    }

    #[test]
    fn missing_objects_wait_and_mistakes_stop() {
        use Transience::*;
        for code in [
            SqlState::UNDEFINED_TABLE,
            SqlState::INVALID_SCHEMA_NAME,
            SqlState::UNDEFINED_COLUMN,
            SqlState::UNDEFINED_FUNCTION,
            SqlState::UNDEFINED_OBJECT,
            SqlState::DIVISION_BY_ZERO,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::CANNOT_CONNECT_NOW,
        ] {
            assert_eq!(classify_query(&code), Transient, "{}", code.code());
        }
        for code in [
            SqlState::SYNTAX_ERROR,
            SqlState::INSUFFICIENT_PRIVILEGE,
            SqlState::READ_ONLY_SQL_TRANSACTION,
            SqlState::FEATURE_NOT_SUPPORTED,
            SqlState::DATATYPE_MISMATCH,
            SqlState::INVALID_PASSWORD,
        ] {
            assert_eq!(classify_query(&code), Permanent, "{}", code.code());
        }
    }
}
