//! `refroute postcodes import <file>`: loads a full ONS Postcode Directory (ONSPD) or National
//! Statistics Postcode Lookup (NSPL) CSV into `triage.postcodes`, over the shipped London and
//! home-counties table, for a national deployment, and so that terminated postcodes (`doterm`)
//! are known. Triage reads the table when it starts: restart triage after an import.

use anyhow::Context;
use refroute_geography::{Row, onspd};
use refroute_platform::db;
use refroute_platform::settings::DatabaseSettings;
use std::fmt;
use std::path::Path;

/// Rows are written in batches of this many, each one statement.
const BATCH: usize = 10_000;

pub struct ImportSummary {
    pub source: String,
    pub counts: onspd::ImportCounts,
    pub columns: onspd::Columns,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {}: {} (columns: postcode {}, local authority {}, terminated {})\nrestart triage to use them",
            self.source,
            self.counts,
            self.columns.postcode,
            self.columns.local_authority,
            self.columns.terminated.as_deref().unwrap_or("not recorded")
        )
    }
}

pub async fn import(database: &DatabaseSettings, path: &Path) -> anyhow::Result<ImportSummary> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    // The CSV is parsed in full first (streamed, about 10 bytes a row in memory), so a file that
    // fails half way changes nothing in the database.
    let mut rows: Vec<Row> = Vec::new();
    let (counts, columns) = onspd::read_rows(std::io::BufReader::new(file), |row| rows.push(row))
        .with_context(|| format!("reading {}", path.display()))?;
    let pool = db::connect(database).await?;
    let mut tx = pool.begin().await?;
    for chunk in rows.chunks(BATCH) {
        let postcodes: Vec<String> = chunk.iter().map(|r| r.postcode.to_string()).collect();
        let lauas: Vec<String> = chunk.iter().map(|r| r.laua.as_str().to_string()).collect();
        let statuses: Vec<i16> = chunk.iter().map(|r| r.status.code()).collect();
        sqlx::query(
            "INSERT INTO triage.postcodes (postcode, laua, status) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::smallint[]) \
             ON CONFLICT (postcode) DO UPDATE SET laua = EXCLUDED.laua, status = EXCLUDED.status",
        )
        .bind(&postcodes)
        .bind(&lauas)
        .bind(&statuses)
        .execute(&mut *tx)
        .await
        .context("writing triage.postcodes (has the database been migrated?)")?;
    }
    let source = path.display().to_string();
    sqlx::query(
        "INSERT INTO triage.postcode_imports (source, rows_kept, summary) VALUES ($1, $2, $3)",
    )
    .bind(&source)
    .bind(counts.kept as i64)
    .bind(counts.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    pool.close().await;
    Ok(ImportSummary {
        source,
        counts,
        columns,
    })
}
