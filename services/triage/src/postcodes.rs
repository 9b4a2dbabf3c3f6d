//! The postcode table triage resolves residences with: the shipped ONSPD table of Great
//! Britain, with any full ONSPD/NSPL imported into `triage.postcodes` (`refroute postcodes
//! import`, which also records terminations) on top. Loaded once at start: a lookup is then two
//! binary searches in memory, with no database round trip on the routing path.

use refroute_geography::{GssCode, Postcode, PostcodeStatus, PostcodeTable, Row};
use sqlx::PgPool;

pub async fn load(pool: &PgPool) -> anyhow::Result<PostcodeTable> {
    let started = std::time::Instant::now();
    let mut table = PostcodeTable::shipped()?;
    let shipped = table.len();
    let imported: Vec<(String, String, i16)> =
        sqlx::query_as("SELECT postcode, laua, status FROM triage.postcodes")
            .fetch_all(pool)
            .await?;
    let count = imported.len();
    table.extend(imported.into_iter().filter_map(|(postcode, laua, status)| {
        Some(Row {
            postcode: Postcode::parse(&postcode).ok()?,
            laua: GssCode::parse(&laua)?,
            status: PostcodeStatus::from_code(status),
        })
    }))?;
    tracing::info!(
        shipped,
        imported = count,
        postcodes = table.len(),
        heap_mib = table.heap_bytes() as f64 / (1024.0 * 1024.0),
        load_ms = started.elapsed().as_millis() as u64,
        "postcode table loaded"
    );
    Ok(table)
}
