//! `refroute audit verify` and `refroute audit show <referral-id>`: check the audit log's hash
//! chain, and list who saw or changed a referral and when. The chain itself (encoding, hash,
//! verification) is `refroute_platform::audit`'s; this reads it from the database.

use futures_util::TryStreamExt;
use refroute_platform::audit::{self, Anchor, Broken, Stored, Verifier};
use sqlx::PgConnection;
use std::fmt::Write as _;

/// What a verification found: the entries chained correctly, or the first that is not.
pub type Verdict = Result<Checked, Broken>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub entries: i64,
    /// The head's number and hash: kept outside the database and passed back as an anchor,
    /// it shows a later rewrite of the whole chain from before it.
    pub head: Anchor,
}

/// Recomputes the whole chain, in order of sequence number, without holding it in memory. The
/// head is read first and only entries up to it are checked: entries are append-only and the
/// head moves in the transaction that appends, so what is read is the log as it stood when the
/// head was read, even while services keep appending. The chain must pass through each of
/// `anchors` (hashes recorded earlier).
pub async fn verify(conn: &mut PgConnection, anchors: Vec<Anchor>) -> Result<Verdict, sqlx::Error> {
    let (head_seq, head_hash): (i64, Vec<u8>) = sqlx::query_as("SELECT seq, hash FROM audit.head")
        .fetch_one(&mut *conn)
        .await?;
    let mut verifier = Verifier::anchored(anchors);
    let mut rows = sqlx::query_as::<_, Stored>(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM audit.entries WHERE seq <= $1 ORDER BY seq",
        audit::COLUMNS
    )))
    .bind(head_seq)
    .fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        if let Err(broken) = verifier.push(&row) {
            return Ok(Err(broken));
        }
    }
    Ok(verifier
        .finish(head_seq, &head_hash)
        .map(|entries| Checked {
            entries,
            head: Anchor {
                seq: head_seq,
                hash: head_hash,
            },
        }))
}

/// The line `refroute audit verify` prints.
pub fn verdict_line(verdict: &Verdict) -> String {
    match verdict {
        Ok(c) => format!("{} audit entries checked: ok; head {}", c.entries, c.head),
        Err(broken) => format!("audit log broken: {broken}"),
    }
}

/// Every entry about one referral, oldest first.
pub async fn show(conn: &mut PgConnection, referral_id: &str) -> Result<Vec<Stored>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM audit.entries WHERE record_kind = $1 AND record_id = $2 ORDER BY seq",
        audit::COLUMNS
    )))
    .bind(audit::REFERRAL)
    .bind(referral_id.trim())
    .fetch_all(conn)
    .await
}

/// A table of entries: when, who (service and actor), what, the lawful basis, and the fields.
pub fn table(entries: &[Stored]) -> String {
    let header = [
        "seq",
        "when (UTC)",
        "service",
        "actor",
        "action",
        "lawful basis",
    ];
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|e| {
            [
                e.seq.to_string(),
                e.at.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
                e.service.clone(),
                e.actor.clone(),
                e.action.clone(),
                e.lawful_basis.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str], fields: &str| {
        for (cell, w) in cells.iter().zip(widths) {
            let _ = write!(out, "{cell:<w$}  ");
        }
        let _ = writeln!(out, "{fields}");
    };
    line(&mut out, &header, "fields");
    for (row, entry) in rows.iter().zip(entries) {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        let fields = if entry.fields.is_empty() {
            "-".to_string()
        } else {
            entry.fields.join(", ")
        };
        line(&mut out, &cells, &fields);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn the_table_names_who_what_when_and_the_fields() {
        let entry = Stored {
            seq: 12,
            at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            service: "notification".into(),
            actor: "City of London Corporation".into(),
            action: "case.disclosed".into(),
            record_kind: "referral".into(),
            record_id: "r".into(),
            fields: vec!["domestic_abuse.victim.full_name".into(), "id".into()],
            lawful_basis: None,
            prev_hash: vec![0; 32],
            hash: vec![1; 32],
        };
        let text = table(&[entry]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("seq  when (UTC)"), "{text}");
        assert!(lines[1].starts_with("12   2025-11-24 16:00:00.123  notification  City of London Corporation  case.disclosed  -             domestic_abuse.victim.full_name, id"), "{text}");
        assert_eq!(
            verdict_line(&Err(Broken {
                seq: 3,
                why: "altered".into()
            })),
            "audit log broken: entry 3 is broken: altered"
        );
        let head = Anchor {
            seq: 9,
            hash: vec![0xab; 32],
        };
        assert_eq!(
            verdict_line(&Ok(Checked { entries: 9, head })),
            format!("9 audit entries checked: ok; head 9:{}", "ab".repeat(32))
        );
    }
}
