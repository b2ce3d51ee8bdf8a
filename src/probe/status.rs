//! `--http-status` and `#status=`: the HTTP statuses that mean ready, as codes and
//! ranges (`200,204,300-399`).

use std::ops::RangeInclusive;

/// A set of accepted HTTP statuses: codes and inclusive ranges (`--http-status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(Vec<RangeInclusive<u16>>);

impl StatusSet {
    /// Parses `200,204,300-399`.
    pub fn parse(text: &str) -> Result<StatusSet, String> {
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim) {
            let code = |s: &str| -> Result<u16, String> {
                match s.trim().parse::<u16>() {
                    Ok(c) if (100..=599).contains(&c) => Ok(c),
                    _ => Err(format!("{s:?} is not an HTTP status (100-599)")),
                }
            };
            if part.is_empty() {
                return Err("empty entry: write codes and ranges such as 200,204,300-399".into());
            }
            let range = match part.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (code(lo)?, code(hi)?);
                    if lo > hi {
                        return Err(format!("range {part:?} is backwards"));
                    }
                    lo..=hi
                }
                None => {
                    let c = code(part)?;
                    c..=c
                }
            };
            ranges.push(range);
        }
        Ok(StatusSet(ranges))
    }

    /// Whether `status` is accepted.
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|r| r.contains(&status))
    }
}

impl Default for StatusSet {
    fn default() -> Self {
        StatusSet(vec![200..=299])
    }
}

impl std::fmt::Display for StatusSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| {
                if r.start() == r.end() {
                    r.start().to_string()
                } else {
                    format!("{}-{}", r.start(), r.end())
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]

    fn status_lists() {
        let s = StatusSet::parse("200,204,300-399").unwrap();
        assert!(s.contains(204) && s.contains(301) && !s.contains(201) && !s.contains(400));
        assert_eq!(s.to_string(), "200,204,300-399");
        for bad in ["", "2OO", "99", "600", "300-200", "200,", "200-"] {
            assert!(StatusSet::parse(bad).is_err(), "{bad}");
        }
    }
}
