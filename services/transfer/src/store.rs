//! Every SQL statement the transfer service runs. A transfer is one row of `transfer.transfers`
//! (its state, how it travels, the sealed case) and one row of `transfer.steps` per step it
//! took. State changes are guarded by the states they may leave, so two replicas, or a retried
//! call racing a late answer, cannot move a transfer twice.

use crate::state::{Answer, Direction, State};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// A transfer as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Row {
    pub id: Uuid,
    pub referral_id: Uuid,
    pub direction: String,
    pub kind: String,
    pub state: String,
    pub from_area_code: String,
    pub to_area_code: String,
    pub to_police_force_code: Option<String>,
    pub route: Option<String>,
    pub peer_id: Option<String>,
    pub receipt_id: Option<Uuid>,
    pub reason: Option<String>,
    pub deliver_by: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub answered_by: Option<String>,
    pub answer_sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sealed_case: Vec<u8>,
}

impl Row {
    pub fn state(&self) -> State {
        // The column only ever holds names State wrote.
        State::parse(&self.state).unwrap_or(State::Requested)
    }

    pub fn direction(&self) -> Direction {
        Direction::parse(&self.direction).unwrap_or(Direction::Outbound)
    }
}

const COLUMNS: &str = "id, referral_id, direction, kind, state, from_area_code, to_area_code, \
    to_police_force_code, route, peer_id, receipt_id, reason, deliver_by, attempts, last_error, \
    answered_by, answer_sent_at, created_at, updated_at, sealed_case";

/// One step of a transfer's history.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub state: String,
    pub detail: String,
}

/// A transfer triage asked for, as the sender records it.
pub struct Requested<'a> {
    pub id: Uuid,
    pub referral_id: Uuid,
    pub from_area_code: &'a str,
    pub to_area_code: &'a str,
    pub panel: &'a str,
    pub kind: &'a str,
    pub to_police_force_code: Option<&'a str>,
    pub sealed_case: Vec<u8>,
    pub deliver_by: DateTime<Utc>,
}

/// Records a requested transfer; false if the referral already has one.
pub async fn insert_requested(tx: &mut PgConnection, t: &Requested<'_>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO transfer.transfers (id, referral_id, from_area_code, to_area_code, panel, state, \
           sealed_case, kind, to_police_force_code, direction, deliver_by) \
         VALUES ($1, $2, $3, $4, $5, 'REQUESTED', $6, $7, $8, 'OUTBOUND', $9) \
         ON CONFLICT (referral_id) DO NOTHING",
    )
    .bind(t.id)
    .bind(t.referral_id)
    .bind(t.from_area_code)
    .bind(t.to_area_code)
    .bind(t.panel)
    .bind(&t.sealed_case)
    .bind(t.kind)
    .bind(t.to_police_force_code)
    .bind(t.deliver_by)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An offer a peer made, as the receiver records it (its referral id is the transfer id).
pub struct Offered<'a> {
    pub id: Uuid,
    pub from_area_code: &'a str,
    pub to_area_code: &'a str,
    pub panel: &'a str,
    pub kind: &'a str,
    pub to_police_force_code: Option<&'a str>,
    pub peer_id: &'a str,
    pub receipt_id: Uuid,
    pub sealed_case: Vec<u8>,
}

/// Records a received offer; false if a transfer with this id is already here.
pub async fn insert_offered(tx: &mut PgConnection, t: &Offered<'_>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO transfer.transfers (id, referral_id, from_area_code, to_area_code, panel, state, \
           sealed_case, kind, to_police_force_code, direction, route, peer_id, receipt_id, answer_sent_at) \
         VALUES ($1, $1, $2, $3, $4, 'RECEIVED', $5, $6, $7, 'INBOUND', 'peer ' || $8, $8, $9, NULL) \
         ON CONFLICT DO NOTHING",
    )
    .bind(t.id)
    .bind(t.from_area_code)
    .bind(t.to_area_code)
    .bind(t.panel)
    .bind(&t.sealed_case)
    .bind(t.kind)
    .bind(t.to_police_force_code)
    .bind(t.peer_id)
    .bind(t.receipt_id)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn add_step(
    tx: &mut PgConnection,
    id: Uuid,
    state: State,
    detail: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO transfer.steps (transfer_id, state, detail) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(state.as_str())
        .bind(detail)
        .execute(tx)
        .await
        .map(drop)
}

pub async fn steps(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Vec<Step>> {
    sqlx::query_as(
        "SELECT at, state, detail FROM transfer.steps WHERE transfer_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM transfer.transfers WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The newest transfers first, at most `limit`, optionally from or to one area, one direction.
pub async fn list(
    pool: &PgPool,
    area: Option<&str>,
    direction: Option<Direction>,
    limit: i64,
) -> sqlx::Result<Vec<Row>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM transfer.transfers \
         WHERE ($1::text IS NULL OR from_area_code = $1 OR to_area_code = $1) \
           AND ($2::text IS NULL OR direction = $2) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    )))
    .bind(area)
    .bind(direction.map(Direction::as_str))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Outbound transfers still to offer (or to send to a contact) within their window.
const OFFER_DUE: &str = "direction = 'OUTBOUND' AND state IN ('REQUESTED', 'OFFERED') \
    AND route IS DISTINCT FROM 'contact' AND deliver_by > now()";
/// Answers given here still to go back to their sender.
const ANSWER_DUE: &str =
    "direction = 'INBOUND' AND state IN ('ACCEPTED', 'DECLINED') AND answer_sent_at IS NULL";

/// The next outbound transfer due to be offered (or sent to a contact), held for `lease` so no
/// other courier takes it meanwhile; its attempt is counted.
pub async fn claim_offer(pool: &PgPool, lease: Duration) -> sqlx::Result<Option<Row>> {
    claim(pool, lease, OFFER_DUE).await
}

/// The next inbound answer due to go back to its sender, held for `lease`.
pub async fn claim_answer(pool: &PgPool, lease: Duration) -> sqlx::Result<Option<Row>> {
    claim(pool, lease, ANSWER_DUE).await
}

async fn claim(pool: &PgPool, lease: Duration, due: &'static str) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE transfer.transfers SET attempts = attempts + 1, \
           next_attempt_at = now() + make_interval(secs => $1) \
         WHERE id = (SELECT id FROM transfer.transfers \
                     WHERE {due} AND next_attempt_at <= now() \
                     ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING {COLUMNS}"
    )))
    .bind(lease.as_secs_f64())
    .fetch_optional(pool)
    .await
}

/// Outbound transfers whose window closed without a receipt or acknowledgement.
pub async fn overdue(pool: &PgPool) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM transfer.transfers WHERE direction = 'OUTBOUND' \
           AND state IN ('REQUESTED', 'OFFERED') AND deliver_by <= now() \
         ORDER BY deliver_by LIMIT 100",
    )
    .fetch_all(pool)
    .await
}

/// Moves a transfer from one of `from` to `to`, setting the columns named in `set` (SQL
/// assignments over $2…); false if it was in none of `from`.
async fn advance(
    tx: &mut PgConnection,
    id: Uuid,
    from: &[State],
    to: State,
    set: &str,
    binds: &[Option<&str>],
) -> sqlx::Result<bool> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let extra = if set.is_empty() {
        String::new()
    } else {
        format!(", {set}")
    };
    let n = binds.len();
    let sql = format!(
        "UPDATE transfer.transfers SET state = ${}, updated_at = now(){extra} \
         WHERE id = $1 AND state = ANY(${})",
        n + 2,
        n + 3
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
    for b in binds {
        query = query.bind(*b);
    }
    let done = query.bind(to.as_str()).bind(from).execute(&mut *tx).await?;
    Ok(done.rows_affected() == 1)
}

/// The first attempt to offer it to `peer` is being made.
pub async fn offering(tx: &mut PgConnection, id: Uuid, peer: &str) -> sqlx::Result<bool> {
    advance(
        tx,
        id,
        &[State::Requested],
        State::Offered,
        "route = 'peer ' || $2, peer_id = $2",
        &[Some(peer)],
    )
    .await
}

/// The peer holds it: its receipt.
pub async fn received(tx: &mut PgConnection, id: Uuid, receipt: Uuid) -> sqlx::Result<bool> {
    let receipt = receipt.to_string();
    advance(
        tx,
        id,
        &[State::Requested, State::Offered],
        State::Received,
        "receipt_id = $2::uuid, last_error = NULL",
        &[Some(&receipt)],
    )
    .await
}

/// Sent to the destination's contact, who acknowledges with the code whose hash is kept.
pub async fn contacted(tx: &mut PgConnection, id: Uuid, code_hash: &[u8]) -> sqlx::Result<bool> {
    let hex = hex(code_hash);
    advance(
        tx,
        id,
        &[State::Requested],
        State::Offered,
        "route = 'contact', ack_code_hash = decode($2, 'hex')",
        &[Some(&hex)],
    )
    .await
}

/// No receipt will come: the window closed, or the peer refused it for good.
pub async fn undeliverable(tx: &mut PgConnection, id: Uuid, reason: &str) -> sqlx::Result<bool> {
    advance(
        tx,
        id,
        &[State::Requested, State::Offered],
        State::Undeliverable,
        "reason = $2, ack_code_hash = NULL",
        &[Some(reason)],
    )
    .await
}

/// The receiver's answer reached the sender.
pub async fn answered(
    tx: &mut PgConnection,
    id: Uuid,
    answer: Answer,
    reason: &str,
) -> sqlx::Result<bool> {
    advance(
        tx,
        id,
        &[State::Offered, State::Received],
        answer.state(),
        "reason = NULLIF($2, '')",
        &[Some(reason)],
    )
    .await
}

/// The destination's contact acknowledged it with the code: it is used up.
pub async fn acknowledged(
    tx: &mut PgConnection,
    id: Uuid,
    code_hash: &[u8],
    by: &str,
) -> sqlx::Result<bool> {
    let hex = hex(code_hash);
    let done = sqlx::query(
        "UPDATE transfer.transfers SET state = 'ACKNOWLEDGED', updated_at = now(), \
           ack_code_hash = NULL, answered_by = $3 \
         WHERE id = $1 AND state = 'OFFERED' AND route = 'contact' \
           AND ack_code_hash = decode($2, 'hex')",
    )
    .bind(id)
    .bind(hex)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The receiver's coordinator (or rules) answered an inbound transfer; it is to be sent back.
pub async fn decided(
    tx: &mut PgConnection,
    id: Uuid,
    answer: Answer,
    reason: &str,
    by: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE transfer.transfers SET state = $2, reason = NULLIF($3, ''), answered_by = $4, \
           answer_sent_at = NULL, attempts = 0, next_attempt_at = now(), updated_at = now() \
         WHERE id = $1 AND direction = 'INBOUND' AND state = 'RECEIVED'",
    )
    .bind(id)
    .bind(answer.state().as_str())
    .bind(reason)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The sender has the answer.
pub async fn answer_sent(pool: &PgPool, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE transfer.transfers SET answer_sent_at = now(), last_error = NULL, updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await
    .map(drop)
}

/// An attempt failed in a way that may pass: due again at `next`.
pub async fn attempt_failed(
    pool: &PgPool,
    id: Uuid,
    error: &str,
    next: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE transfer.transfers SET last_error = $2, next_attempt_at = $3, updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(next)
    .execute(pool)
    .await
    .map(drop)
}

/// An answer the sender refused for good: kept, not retried (an operator must look).
pub async fn answer_refused(pool: &PgPool, id: Uuid, error: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE transfer.transfers SET last_error = $2, next_attempt_at = 'infinity', \
           updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(pool)
    .await
    .map(drop)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
