//! DURATION values: a bare number of seconds (`15`, `2.5`) or a humantime string
//! (`500ms`, `30s`, `2m`, `1h30m`).

use std::time::Duration;

/// Parses a DURATION; the error text says what would be valid.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = t.parse().map_err(|_| format!("{t:?} is not a number"))?;
        return Duration::try_from_secs_f64(secs).map_err(|_| "out of range".into());
    }
    humantime::parse_duration(t).map_err(|e| e.to_string())
}

/// Formats a duration for messages: `850ms`, `1.2s`, `2m5s`.
pub fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        if s < 3600 {
            format!("{}m{}s", s / 60, s % 60)
        } else {
            format!("{}h{}m{}s", s / 3600, (s % 3600) / 60, s % 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let ok = [
            ("0", 0),
            ("15", 15_000),
            ("2.5", 2_500),
            ("0.1", 100),
            ("500ms", 500),
            ("30s", 30_000),
            ("2m", 120_000),
            ("1h30m", 5_400_000),
            (" 1s ", 1_000),
        ];
        for (text, ms) in ok {
            assert_eq!(parse(text), Ok(Duration::from_millis(ms)), "{text}");
        }
        for bad in [
            "",
            "30x",
            "-1",
            "1..2",
            "s",
            "1e3",
            "99999999999999999999999",
        ] {
            assert!(parse(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn shows_short_forms() {
        assert_eq!(show(Duration::from_millis(850)), "850ms");
        assert_eq!(show(Duration::from_millis(1234)), "1.2s");
        assert_eq!(show(Duration::from_secs(125)), "2m5s");
        assert_eq!(show(Duration::from_secs(3725)), "1h2m5s");
    }
}
