//! The inbox: a consumer records each message id in the same transaction as its effect, so a
//! redelivered or duplicated message finds its id taken and changes nothing.

use sqlx::PgConnection;
use uuid::Uuid;

/// True when this is the first time `consumer` sees `message_id` (go ahead); false for a
/// duplicate (commit nothing else and ack).
pub async fn claim(
    conn: &mut PgConnection,
    schema: &'static str,
    consumer: &str,
    message_id: Uuid,
) -> sqlx::Result<bool> {
    let sql = format!(
        "INSERT INTO {schema}.inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(consumer)
        .bind(message_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
