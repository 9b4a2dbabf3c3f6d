//! What is wrong with a request, field by field, in words a referrer can act on. One answer
//! names every bad field, but never more than [`MAX_VIOLATIONS`] of them nor more than
//! [`MAX_LISTED_BYTES`] of text: a huge request must not buy a huge error, and the error travels
//! in HTTP/2 trailers, which clients cap (16 KiB by default).

use std::fmt;

/// The most field violations one answer lists; the rest are counted.
pub const MAX_VIOLATIONS: usize = 100;
/// The most text (field paths and descriptions) one answer lists: base64 in a trailer, it stays
/// well under a client's 16 KiB header limit.
pub const MAX_LISTED_BYTES: usize = 6 * 1024;

/// One invalid field: its path in the request (`referral.domestic_abuse.victim.full_name`) and
/// what is wrong. Descriptions never repeat the value sent: it may be personal data, and client
/// errors end up in logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub description: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Collects violations up to the cap and counts the rest.
#[derive(Debug, Default)]
pub struct Violations {
    listed: Vec<Violation>,
    listed_bytes: usize,
    unlisted: usize,
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Lists the violation while the answer has room, in the order found; once one does not
    /// fit, it and every later one are only counted.
    pub fn push(&mut self, field: impl Into<String>, why: impl Into<String>) {
        let v = Violation::new(field, why);
        let bytes = v.field.len() + v.description.len();
        let fits = self.unlisted == 0
            && self.listed.len() < MAX_VIOLATIONS
            && self.listed_bytes + bytes <= MAX_LISTED_BYTES;
        if fits {
            self.listed_bytes += bytes;
            self.listed.push(v);
        } else {
            self.unlisted += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// How many fields are bad, listed or not.
    pub fn total(&self) -> usize {
        self.listed.len() + self.unlisted
    }

    /// The listed violations, and one more naming how many were left out.
    pub fn into_vec(self) -> Vec<Violation> {
        let mut out = self.listed;
        if self.unlisted > 0 {
            out.push(Violation::new(
                "request",
                format!(
                    "{} more invalid field(s) not listed; fix those above and send again",
                    self.unlisted
                ),
            ));
        }
        out
    }

    /// `Ok(value)` when nothing was wrong.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<Violation>> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(self.into_vec())
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

/// The field names alone, for a log line or an error that must not carry values.
pub fn fields(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| v.field.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_the_cap_violations_are_counted_not_listed() {
        let mut v = Violations::new();
        for i in 0..65_000 {
            v.push(format!("f[{i}]"), "bad");
        }
        assert_eq!(v.total(), 65_000);
        let listed = v.into_vec();
        assert_eq!(listed.len(), MAX_VIOLATIONS + 1);
        assert!(listed[MAX_VIOLATIONS].description.starts_with("64900 more"));
    }

    #[test]
    fn long_descriptions_are_capped_by_size_too() {
        let mut v = Violations::new();
        for i in 0..100 {
            v.push(format!("referral.field[{i}]"), "x".repeat(200));
        }
        let listed = v.into_vec();
        let bytes: usize = listed
            .iter()
            .map(|v| v.field.len() + v.description.len())
            .sum();
        assert!(bytes <= MAX_LISTED_BYTES + 100, "{bytes}");
        assert!(listed.len() < 40, "{}", listed.len());
        let more = &listed.last().unwrap().description;
        assert!(
            more.ends_with("not listed; fix those above and send again"),
            "{more}"
        );
    }
}
