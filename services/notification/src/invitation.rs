//! A Community MARAC invitation waiting for the residence (docs/DOMAIN.md 2.2). The case is heard
//! where the behaviour happened whatever the residence, but the statutory services of the area
//! where the person lives are invited, and that cannot be addressed while the residence is
//! unknown. What is owed is recorded all the same, in `notification.deliveries` as
//! `AWAITING_RESIDENCE` (no recipient), so nothing owed is forgotten. When a later decision of
//! the referral no longer waits (the residence was supplied), the row becomes `RELEASED` and the
//! invitation itself comes as a residence notice (`notice.rs`) when the person lives elsewhere.
//! Both happen in the transaction that applies the decision to the queue, which
//! `queue::newest_decision` orders, so a late or replayed older decision changes nothing.

use crate::notice::{RESIDENCE_NOTICE, UNRESOLVED};
use prost::Message;
use refroute_platform::crypto::Sealer;
use refroute_proto::v1::Decision;
use sqlx::PgConnection;
use uuid::Uuid;

/// `deliveries.state` of an invitation that waits for the residence.
pub const AWAITING_RESIDENCE: &str = "AWAITING_RESIDENCE";
/// `deliveries.state` of an invitation whose residence has since been supplied.
pub const RELEASED: &str = "RELEASED";

/// Records the invitation `decision` holds back, or releases one an earlier decision held.
pub async fn apply(
    tx: &mut PgConnection,
    sealer: &Sealer,
    referral_id: Uuid,
    decision: &Decision,
) -> Result<(), sqlx::Error> {
    if decision.invitation_awaits_residence() {
        hold(tx, sealer, referral_id, decision).await
    } else {
        release(tx, referral_id).await
    }
}

async fn hold(
    tx: &mut PgConnection,
    sealer: &Sealer,
    referral_id: Uuid,
    decision: &Decision,
) -> Result<(), sqlx::Error> {
    let id = Uuid::now_v7();
    // The decision, which says what to supply; it quotes no personal data, but is sealed as
    // every payload is.
    let sealed = sealer.seal(&id.to_string(), &decision.encode_to_vec());
    let held = sqlx::query(
        "INSERT INTO notification.deliveries \
         (id, referral_id, kind, to_area_code, recipient_role, recipient_organisation, state, sealed_payload) \
         SELECT $1, $2, $3, '', $4, '', $5, $6 WHERE NOT EXISTS \
           (SELECT 1 FROM notification.deliveries WHERE referral_id = $2 AND state = $5)",
    )
    .bind(id)
    .bind(referral_id)
    .bind(RESIDENCE_NOTICE)
    .bind(UNRESOLVED)
    .bind(AWAITING_RESIDENCE)
    .bind(sealed)
    .execute(tx)
    .await?;
    if held.rows_affected() == 1 {
        tracing::info!(%referral_id, "community MARAC invitation waits for the residence");
    }
    Ok(())
}

async fn release(tx: &mut PgConnection, referral_id: Uuid) -> Result<(), sqlx::Error> {
    let released = sqlx::query(
        "UPDATE notification.deliveries SET state = $2 WHERE referral_id = $1 AND state = $3",
    )
    .bind(referral_id)
    .bind(RELEASED)
    .bind(AWAITING_RESIDENCE)
    .execute(tx)
    .await?;
    if released.rows_affected() > 0 {
        tracing::info!(%referral_id, "residence supplied: the held community MARAC invitation is released");
    }
    Ok(())
}
