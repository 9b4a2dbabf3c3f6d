//! The coordinator queues: stored sealed, listed by area and panel in the order cases arrived.
//! A routed referral lands in the queue of the panel its decision names (MARAC, Community MARAC
//! or Channel); a referral that needs review lands in the receiving area's review queue
//! (`PANEL_REVIEW`). Both go through [`QueueStore::enqueue`], as does a transfer declined by, or
//! undeliverable to, its destination, which comes back to the sender's queue
//! ([`crate::transfer_steps`]). A case leaves a queue when it is settled elsewhere
//! ([`leave`]): a review resolved without a panel, or a transfer here declined.

use crate::deliveries::Notifier;
use crate::message::Kind;
use crate::plan::{Planned, Planner};
use chrono::{DateTime, NaiveDate, Utc};
use prost::Message;
use refroute_domain::AreaCode;
use refroute_platform::audit::{self, Entry, action};
use refroute_platform::crypto::Sealer;
use refroute_platform::messaging::{Event, HandleError, Handler, Incoming, Outbox, TraceContext};
use refroute_platform::wire::timestamp;
use refroute_proto::v1::{
    Case, CaseHeard, Decision, Panel, Referral, ReferralBelowThreshold, ReferralDeclined,
    ReferralNeedsReview, ReferralRouted, TransferRequested, referral,
};
use sqlx::{PgConnection, PgPool};
use std::marker::PhantomData;
use uuid::Uuid;

#[derive(Clone)]
pub struct QueueStore {
    pub pool: PgPool,
    sealer: Sealer,
}

/// Every column a case is read from.
const CASE_COLUMNS: &str =
    "referral_id, area_code, panel, sealed_case, routed_at, heard_on, transfer_id";

#[derive(sqlx::FromRow)]
struct Row {
    referral_id: Uuid,
    area_code: String,
    panel: String,
    sealed_case: Vec<u8>,
    routed_at: DateTime<Utc>,
    heard_on: Option<NaiveDate>,
    transfer_id: Option<Uuid>,
}

/// Where a listing resumes: after this arrival time and referral id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub routed_at: DateTime<Utc>,
    pub referral_id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.routed_at.timestamp_micros(), self.referral_id)
    }

    pub fn decode(token: &str) -> Option<Self> {
        let (micros, id) = token.split_once('_')?;
        Some(Self {
            routed_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            referral_id: id.parse().ok()?,
        })
    }
}

/// What [`QueueStore::enqueue`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queued {
    /// The case is new in its queue.
    New,
    /// It waited in review and is now in its panel's queue.
    Moved,
    /// It was decided again for the queue it is in.
    Updated,
    /// Nothing changed: the decision was older than one applied, or the case is in another
    /// panel's queue already.
    Unchanged,
}

impl Queued {
    /// Whether the case has just arrived in its queue, so its coordinators are to be told.
    pub fn arrived(self) -> bool {
        matches!(self, Queued::New | Queued::Moved)
    }
}

/// What [`QueueStore::record_hearing`] did.
#[derive(Debug)]
pub enum Hearing {
    /// The date was the first, or later than the one recorded: stored, and `case.heard` is in
    /// the outbox.
    Recorded(Case),
    /// The case was already recorded as heard on that date: nothing changed, nothing emitted.
    Unchanged(Case),
    /// The date is before the case reached its panel (`routed_on`, UTC), so no panel of its
    /// could have heard it then. Nothing changed.
    BeforeRouted { routed_on: NaiveDate },
    /// A later meeting is already recorded: the case keeps its latest (repeat windows that count
    /// from the last meeting must never move back). Nothing changed.
    LaterRecorded { heard_on: NaiveDate },
    /// No case with that referral id in any queue.
    NotFound,
    /// The case waits in the review queue: it has not been routed to a panel, so no panel can
    /// have heard it.
    InReview(Case),
}

impl QueueStore {
    pub fn new(pool: PgPool, sealer: Sealer) -> Self {
        Self { pool, sealer }
    }

    fn open(&self, row: Row) -> anyhow::Result<Case> {
        let plain = self
            .sealer
            .open(&row.referral_id.to_string(), &row.sealed_case)?;
        let mut case = Case::decode(plain.as_slice())?;
        case.route_time = Some(timestamp(row.routed_at));
        // The queue a case is in, and when it was heard, are the columns' to say: a case that
        // moved from review to a panel, or was heard, keeps its original sealed form.
        case.area_code = row.area_code;
        case.panel = Panel::from_str_name(&row.panel).unwrap_or(Panel::Unspecified) as i32;
        case.heard_on = row.heard_on.map(|d| d.to_string()).unwrap_or_default();
        case.transfer_id = row.transfer_id.map(|t| t.to_string()).unwrap_or_default();
        Ok(case)
    }

    /// Up to `limit` cases after `after`, oldest first, and the cursor of the last one if more remain.
    pub async fn list(
        &self,
        area: &str,
        panel: Panel,
        after: Option<Cursor>,
        limit: i64,
    ) -> anyhow::Result<(Vec<Case>, Option<Cursor>)> {
        let (at, id) = after
            .map(|c| (c.routed_at, c.referral_id))
            .unwrap_or((DateTime::<Utc>::UNIX_EPOCH, Uuid::nil()));
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM notification.queue_cases \
             WHERE area_code = $1 AND panel = $2 AND (routed_at, referral_id) > ($3, $4) \
             ORDER BY routed_at, referral_id LIMIT $5"
        )))
        .bind(area)
        .bind(panel.as_str_name())
        .bind(at)
        .bind(id)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let more = rows.len() as i64 > limit;
        let rows: Vec<Row> = rows.into_iter().take(limit as usize).collect();
        let next = more.then(|| {
            let last = rows.last().expect("limit >= 1");
            Cursor {
                routed_at: last.routed_at,
                referral_id: last.referral_id,
            }
        });
        let cases = rows
            .into_iter()
            .map(|r| self.open(r))
            .collect::<anyhow::Result<_>>()?;
        Ok((cases, next))
    }

    pub async fn get(&self, referral_id: Uuid) -> anyhow::Result<Option<Case>> {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM notification.queue_cases WHERE referral_id = $1"
        )))
        .bind(referral_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| self.open(r)).transpose()
    }

    /// Puts `case` (from [`to_case`]) in its queue inside the consumer's transaction `tx`, with
    /// its announcement on [`QUEUED_CHANNEL`], so watchers hear of the case only once it is
    /// committed. A case already queued stays where it is, except that a case waiting in
    /// review moves to the panel a later routing decision names, and a case decided again for
    /// the same queue (its held-back invitation's residence supplied) shows the later decision,
    /// keeping its place. A Community MARAC invitation the decision holds back, or releases, is
    /// recorded with it ([`crate::invitation`]). Says what changed.
    pub async fn enqueue(&self, tx: &mut PgConnection, case: &Case) -> Result<Queued, HandleError> {
        let referral_id: Uuid = case
            .referral_id
            .parse()
            .map_err(|_| HandleError::permanent("referral id is not a UUID"))?;
        // The transfer a case came by, so declining that transfer takes this case out.
        let transfer_id: Option<Uuid> = match case.transfer_id.trim() {
            "" => None,
            t => Some(
                t.parse()
                    .map_err(|_| HandleError::permanent("transfer id is not a UUID"))?,
            ),
        };
        let panel = Panel::try_from(case.panel).unwrap_or(Panel::Unspecified);
        let criterion = case
            .decision
            .as_ref()
            .map(|d| d.criterion().as_str_name())
            .unwrap_or("CRITERION_UNSPECIFIED");
        let sealed = self.sealer.seal(&case.referral_id, &case.encode_to_vec());
        if !newest_decision(tx, referral_id, case.decision.as_ref()).await? {
            tracing::warn!(area = %case.area_code, panel = panel.as_str_name(), "a decision older than one already applied arrived late or was replayed; ignored");
            return Ok(Queued::Unchanged);
        }
        // The subquery in RETURNING sees the table as it was before this statement: which
        // queue the case was in, if any.
        let queued: Option<(DateTime<Utc>, Option<String>)> = sqlx::query_as(
            "INSERT INTO notification.queue_cases (referral_id, area_code, panel, criterion, sealed_case, transfer_id) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (referral_id) DO UPDATE SET area_code = excluded.area_code, panel = excluded.panel, \
               criterion = excluded.criterion, sealed_case = excluded.sealed_case, \
               transfer_id = excluded.transfer_id, \
               routed_at = CASE WHEN queue_cases.panel = 'PANEL_REVIEW' THEN now() ELSE queue_cases.routed_at END \
             WHERE queue_cases.panel = 'PANEL_REVIEW' \
               OR (queue_cases.area_code = excluded.area_code AND queue_cases.panel = excluded.panel) \
             RETURNING routed_at, (SELECT q.panel FROM notification.queue_cases q WHERE q.referral_id = $1)",
        )
        .bind(referral_id)
        .bind(&case.area_code)
        .bind(panel.as_str_name())
        .bind(criterion)
        .bind(sealed)
        .bind(transfer_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (routed_at, before) = match queued {
            Some((at, before)) => (Some(at), before),
            None => (None, None),
        };
        if let Some(decision) = &case.decision
            && panel != Panel::Review
        {
            crate::invitation::apply(tx, &self.sealer, referral_id, decision).await?;
        }
        if routed_at.is_some() {
            // Delivered to listeners only if, and when, this transaction commits.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(QUEUED_CHANNEL)
                .bind(&case.referral_id)
                .execute(&mut *tx)
                .await?;
        }
        if routed_at.is_some() {
            tracing::info!(area = %case.area_code, panel = panel.as_str_name(), criterion, "case queued for coordinator");
        }
        Ok(match (routed_at, before) {
            (None, _) => Queued::Unchanged,
            (Some(_), None) => Queued::New,
            (Some(_), Some(was))
                if was == Panel::Review.as_str_name() && panel != Panel::Review =>
            {
                Queued::Moved
            }
            (Some(_), Some(_)) => Queued::Updated,
        })
    }

    /// Records that the panel heard the case on `date`: the column and the `case.heard` event
    /// (in `outbox`) change together in one transaction. The same date again, an earlier date
    /// than the one recorded, or a date before the case was routed change nothing. The caller
    /// wakes the relay after a [`Hearing::Recorded`]; the audit log has the hearing and the
    /// disclosure of the case returned, in the same transaction.
    pub async fn record_hearing(
        &self,
        outbox: &Outbox,
        actor: &str,
        referral_id: Uuid,
        date: NaiveDate,
        trace: &TraceContext,
    ) -> anyhow::Result<Hearing> {
        let mut tx = self.pool.begin().await?;
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM notification.queue_cases WHERE referral_id = $1 FOR UPDATE"
        )))
        .bind(referral_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Hearing::NotFound);
        };
        let previously = row.heard_on;
        let routed_on = row.routed_at.date_naive();
        let mut case = self.open(row)?;
        let panel = Panel::try_from(case.panel).unwrap_or(Panel::Unspecified);
        if panel == Panel::Review {
            return Ok(Hearing::InReview(case));
        }
        if date < routed_on {
            return Ok(Hearing::BeforeRouted { routed_on });
        }
        match previously {
            Some(heard_on) if heard_on == date => return Ok(Hearing::Unchanged(case)),
            Some(heard_on) if heard_on > date => return Ok(Hearing::LaterRecorded { heard_on }),
            _ => {}
        }
        // The row is locked, so the guard cannot fail here; it states the rule where it lives.
        sqlx::query(
            "UPDATE notification.queue_cases SET heard_on = $2 \
             WHERE referral_id = $1 AND (heard_on IS NULL OR heard_on < $2)",
        )
        .bind(referral_id)
        .bind(date)
        .execute(&mut *tx)
        .await?;
        let event = CaseHeard {
            referral_id: case.referral_id.clone(),
            area_code: case.area_code.clone(),
            panel: case.panel,
            meeting_date: date.to_string(),
        };
        outbox
            .enqueue(&mut tx, &event, &case.referral_id, trace)
            .await?;
        case.heard_on = date.to_string();
        let heard = Entry::of_case(crate::SCHEMA, actor, action::HEARING_RECORDED, &case)
            .fields(vec!["heard_on".into()]);
        // The case the call answers with is disclosed with the change it shows.
        let disclosed = Entry::of_case(crate::SCHEMA, actor, action::CASE_DISCLOSED, &case);
        // Last before the commit: the audit head stays locked until then.
        audit::append_all(&mut tx, &[heard, disclosed]).await?;
        tx.commit().await?;
        tracing::info!(area = %case.area_code, panel = panel.as_str_name(), meeting_date = %date, previously = ?previously, "hearing recorded");
        Ok(Hearing::Recorded(case))
    }
}

/// Records, in the consumer's transaction, that `decision` is the latest applied to the
/// referral, and says whether it is: false when a decision made at the same time or later was
/// applied already (then the caller changes nothing). The events that create and clear a
/// review entry travel on separate queues and can be reordered or replayed; ordering them by
/// their decision's `decide_time` means an older `needs_review` arriving after its resolution
/// creates nothing. The row lock taken here also serialises two such events for one referral.
pub async fn newest_decision(
    tx: &mut PgConnection,
    referral_id: Uuid,
    decision: Option<&Decision>,
) -> Result<bool, HandleError> {
    let decided_at = decision
        .and_then(|d| d.decide_time.as_ref())
        .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .ok_or_else(|| {
            HandleError::permanent(
                "decision without a valid decide_time: its order among outcomes cannot be known",
            )
        })?;
    newest(tx, referral_id, decided_at).await
}

/// [`newest_decision`] for a change that is no triage decision but settles the referral's
/// place in the queues all the same (a transfer here declined, at the time it was declined).
pub async fn newest(
    tx: &mut PgConnection,
    referral_id: Uuid,
    decided_at: DateTime<Utc>,
) -> Result<bool, HandleError> {
    let newer: Option<(i32,)> = sqlx::query_as(
        "INSERT INTO notification.decision_order (referral_id, decided_at) VALUES ($1, $2) \
         ON CONFLICT (referral_id) DO UPDATE SET decided_at = excluded.decided_at \
         WHERE decision_order.decided_at < excluded.decided_at \
         RETURNING 1",
    )
    .bind(referral_id)
    .bind(decided_at)
    .fetch_optional(tx)
    .await?;
    Ok(newer.is_some())
}

/// Which case leaves its queue when its referral is settled elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaving {
    /// A referral waiting in review that was decided without a panel: the reviewer's work is
    /// done. A case already in a panel's queue stays.
    Review,
    /// The case that came by this transfer, in whichever queue: the receiving coordinator
    /// declined it, and it goes back to the sender. A case of that id that came otherwise stays.
    Transfer(Uuid),
}

/// Takes the referral's case out of its queue, as `leaving` says, in the consumer's
/// transaction. The caller has ordered the change first ([`newest_decision`], [`newest`]).
/// Says whether a case left.
pub async fn leave(
    tx: &mut PgConnection,
    referral_id: Uuid,
    leaving: Leaving,
) -> Result<bool, sqlx::Error> {
    let left = match leaving {
        Leaving::Review => {
            sqlx::query(
                "DELETE FROM notification.queue_cases WHERE referral_id = $1 AND panel = 'PANEL_REVIEW'",
            )
            .bind(referral_id)
            .execute(&mut *tx)
            .await?
        }
        Leaving::Transfer(transfer_id) => {
            sqlx::query(
                "DELETE FROM notification.queue_cases WHERE referral_id = $1 AND transfer_id = $2",
            )
            .bind(referral_id)
            .bind(transfer_id)
            .execute(&mut *tx)
            .await?
        }
    };
    Ok(left.rows_affected() > 0)
}

/// PostgreSQL channel on which a newly queued case's referral id is announced at commit, so
/// that every notification replica can tell its own watchers.
pub const QUEUED_CHANNEL: &str = "refroute_queue_cases";

/// Which queue an event puts its case in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// The panel the decision names, in the decision's destination area (`referral.routed`).
    DecidedPanel,
    /// The review queue (`PANEL_REVIEW`) of the decision's destination area, which is the
    /// receiving area (`referral.needs_review`), whatever panel the decision names.
    Review,
}

/// The case a coordinator sees: the referral's details for its pathway, and the decision with
/// its reason (and, for review, what the referrer must supply). `Err` says why the event cannot
/// make a case; retrying cannot help.
pub fn to_case(
    referral: Option<Referral>,
    decision: Option<Decision>,
    destination: Destination,
) -> Result<Case, String> {
    let referral = referral.ok_or("without a referral")?;
    let decision = decision.ok_or("without a decision")?;
    if referral.id.parse::<Uuid>().is_err() {
        return Err("whose referral id is not a UUID".into());
    }
    let area = AreaCode::parse(&decision.destination_area_code)
        .map_err(|e| format!("whose decision's destination_area_code is unusable: {e}"))?;
    let panel = match destination {
        Destination::Review => Panel::Review,
        Destination::DecidedPanel => match Panel::try_from(decision.panel) {
            Ok(Panel::Unspecified) | Err(_) => {
                return Err(format!(
                    "whose decision names no panel (panel {}); no coordinator could see it",
                    decision.panel
                ));
            }
            Ok(p) => p,
        },
    };
    let (domestic_abuse, community_marac, prevent) = match referral.details {
        Some(referral::Details::DomesticAbuse(d)) => (Some(d), None, None),
        Some(referral::Details::CommunityMarac(c)) => (None, Some(c), None),
        Some(referral::Details::Prevent(p)) => (None, None, Some(p)),
        None => {
            return Err(
                "whose referral has no details (domestic_abuse, community_marac or prevent)".into(),
            );
        }
    };
    Ok(Case {
        referral_id: referral.id,
        area_code: area.as_str().to_string(),
        panel: panel as i32,
        referring_organisation: referral.referring_organisation,
        referrer_reference: referral.referrer_reference,
        received_area_code: referral.received_area_code,
        domestic_abuse,
        community_marac,
        prevent,
        decision: Some(decision),
        route_time: None,
        heard_on: String::new(),
        transfer_id: String::new(),
    })
}

/// A case on its way into a queue, as those told of it are told.
#[derive(Clone, Debug)]
pub struct Queueing {
    pub referral_id: Uuid,
    /// As the queue's side has it: the referrer and its reference are inside.
    pub referral: Referral,
    pub decision: Decision,
    /// The transfer it came by, when it came from another deployment ("" otherwise).
    pub transfer_id: String,
}

/// An event that carries a referral and its decision into a queue.
pub trait CaseEvent: Event + 'static {
    const DESTINATION: Destination;
    /// The referral, its decision, and the transfer it came by ("" when it did not).
    fn into_parts(self) -> (Option<Referral>, Option<Decision>, String);
    /// Who is told, now that the case has `queued` so.
    fn tell(planner: &Planner, case: &Queueing, queued: Queued) -> Vec<Planned>;
}

impl CaseEvent for ReferralRouted {
    const DESTINATION: Destination = Destination::DecidedPanel;
    fn into_parts(self) -> (Option<Referral>, Option<Decision>, String) {
        (self.referral, self.decision, self.transfer_id)
    }
    /// Coordinators and referrer when the case arrives; nobody when it is decided again for
    /// the queue it is in (its held invitation released), which changes nothing for them.
    fn tell(planner: &Planner, case: &Queueing, queued: Queued) -> Vec<Planned> {
        if queued.arrived() {
            planner.routed(case, true)
        } else {
            Vec::new()
        }
    }
}

impl CaseEvent for ReferralNeedsReview {
    const DESTINATION: Destination = Destination::Review;
    fn into_parts(self) -> (Option<Referral>, Option<Decision>, String) {
        (self.referral, self.decision, self.transfer_id)
    }
    /// The referrer each time it is asked for something; the review coordinators once.
    fn tell(planner: &Planner, case: &Queueing, queued: Queued) -> Vec<Planned> {
        match queued {
            Queued::Unchanged => Vec::new(),
            q => planner.needs_review(case, q.arrived()),
        }
    }
}

/// Consumes `referral.routed` ([`RoutedHandler`]) or `referral.needs_review`
/// ([`ReviewHandler`]) into the queue the event names, with the notifications it owes.
pub struct QueueHandler<E> {
    store: QueueStore,
    notifier: Notifier,
    event: PhantomData<fn() -> E>,
}

pub type RoutedHandler = QueueHandler<ReferralRouted>;
pub type ReviewHandler = QueueHandler<ReferralNeedsReview>;

impl<E: CaseEvent> QueueHandler<E> {
    pub fn new(store: QueueStore, notifier: Notifier) -> Self {
        Self {
            store,
            notifier,
            event: PhantomData,
        }
    }
}

impl<E: CaseEvent> Handler for QueueHandler<E> {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let (referral, decision, transfer_id) = message.decode::<E>()?.into_parts();
        let mut case = to_case(referral.clone(), decision.clone(), E::DESTINATION)
            .map_err(|why| HandleError::permanent(format!("{} {why}", E::TYPE)))?;
        case.transfer_id = transfer_id.trim().to_string();
        let queued = self.store.enqueue(tx, &case).await?;
        // to_case accepted both, and the id.
        let (Some(referral), Some(decision)) = (referral, decision) else {
            return Ok(());
        };
        let queueing = Queueing {
            referral_id: case.referral_id.parse().expect("to_case checked the id"),
            referral,
            decision,
            transfer_id: case.transfer_id,
        };
        let planned = E::tell(&self.notifier.planner, &queueing, queued);
        self.notifier.owe(tx, &planned).await
    }
}

/// Handles an outcome that queues nothing (below threshold, declined, transferred): tells the
/// referrer, and takes the referral out of the review queue if it waited there (the
/// reviewer's work is done). Most such referrals never waited for review.
pub struct ReviewResolvedHandler {
    notifier: Notifier,
}

impl ReviewResolvedHandler {
    pub fn new(notifier: Notifier) -> Self {
        Self { notifier }
    }
}

/// An outcome that queues nothing, as the referrer is told of it.
struct Resolved {
    referral_id: String,
    decision: Option<Decision>,
    kind: Kind,
    referral: Option<Referral>,
    referrer_id: String,
    reference: String,
}

fn resolved_referral(message: &Incoming) -> Result<Resolved, HandleError> {
    let from = |referral_id, decision, kind, referral: Option<Referral>| {
        let (referrer_id, reference) = referral
            .as_ref()
            .map(|r| (r.referrer_id.clone(), r.referrer_reference.clone()))
            .unwrap_or_default();
        Resolved {
            referral_id,
            decision,
            kind,
            referral,
            referrer_id,
            reference,
        }
    };
    Ok(match message.message_type.as_str() {
        ReferralBelowThreshold::TYPE => {
            let e: ReferralBelowThreshold = message.decode()?;
            from(
                e.referral_id,
                e.decision,
                Kind::ReferralBelowThreshold,
                e.referral,
            )
        }
        ReferralDeclined::TYPE => {
            let e: ReferralDeclined = message.decode()?;
            from(
                e.referral_id,
                e.decision,
                Kind::ReferralDeclined,
                e.referral,
            )
        }
        TransferRequested::TYPE => {
            let e: TransferRequested = message.decode()?;
            // The minimised referral carries neither who referred it nor their reference.
            Resolved {
                referral_id: e.referral_id,
                decision: e.decision,
                kind: Kind::ReferralTransferred,
                referral: e.referral,
                referrer_id: e.referrer_id,
                reference: e.referrer_reference,
            }
        }
        other => {
            return Err(HandleError::permanent(format!(
                "unexpected message type '{}'",
                other.escape_debug()
            )));
        }
    })
}

impl Handler for ReviewResolvedHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let resolved = resolved_referral(message)?;
        let (id, decision) = (resolved.referral_id.clone(), resolved.decision.clone());
        let referral_id: Uuid = id.parse().map_err(|_| {
            HandleError::permanent(format!("referral id '{}' is not a UUID", id.escape_debug()))
        })?;
        if !newest_decision(tx, referral_id, decision.as_ref()).await? {
            tracing::warn!(%referral_id, "a decision older than one already applied arrived late or was replayed; ignored");
            return Ok(());
        }
        if leave(tx, referral_id, Leaving::Review).await? {
            tracing::info!(%referral_id, "review resolved: referral left the review queue");
        }
        // An event from before referrals travelled with these outcomes names nobody to tell.
        let (Some(referral), Some(decision)) = (&resolved.referral, &decision) else {
            return Ok(());
        };
        let planned = self.notifier.planner.resolved(
            resolved.kind,
            referral_id,
            referral,
            decision,
            &resolved.referrer_id,
            &resolved.reference,
        );
        self.notifier.owe(tx, &planned).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_proto::v1::{
        CommunityMaracReferral, Criterion, DomesticAbuseReferral, Outcome, Pathway, PreventReferral,
    };

    #[test]
    fn cursor_round_trips_and_refuses_garbage() {
        let c = Cursor {
            routed_at: DateTime::from_timestamp_micros(1_763_900_000_123_456).unwrap(),
            referral_id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("nonsense"), None);
        assert_eq!(Cursor::decode("12_notauuid"), None);
    }

    fn referral(details: referral::Details) -> Referral {
        Referral {
            id: Uuid::now_v7().to_string(),
            referring_organisation: "City of London Police".into(),
            referrer_reference: "COLP-1".into(),
            received_area_code: "E09000001".into(),
            details: Some(details),
            ..Default::default()
        }
    }

    fn decision(panel: Panel, area: &str) -> Decision {
        Decision {
            outcome: Outcome::Routed as i32,
            panel: panel as i32,
            destination_area_code: area.into(),
            criterion: Criterion::VisibleHighRisk as i32,
            reason: "why".into(),
            ..Default::default()
        }
    }

    #[test]
    fn each_pathway_becomes_a_case_in_the_decided_panel() {
        let da = DomesticAbuseReferral {
            lawful_basis: "da".into(),
            ..Default::default()
        };
        let ccm = CommunityMaracReferral {
            lawful_basis: "ccm".into(),
            ..Default::default()
        };
        let prevent = PreventReferral {
            concern_summary: "prevent".into(),
            ..Default::default()
        };
        let cases = [
            (referral::Details::DomesticAbuse(da.clone()), Panel::Marac),
            (
                referral::Details::CommunityMarac(ccm.clone()),
                Panel::CommunityMarac,
            ),
            (referral::Details::Prevent(prevent.clone()), Panel::Channel),
        ];
        for (details, panel) in cases {
            let r = referral(details.clone());
            let id = r.id.clone();
            let case = to_case(
                Some(r),
                Some(decision(panel, "e09000012")),
                Destination::DecidedPanel,
            )
            .unwrap();
            assert_eq!(case.referral_id, id);
            assert_eq!(case.panel, panel as i32);
            assert_eq!(case.area_code, "E09000012", "normalised as ListQueue asks");
            assert_eq!(case.referring_organisation, "City of London Police");
            assert_eq!(case.referrer_reference, "COLP-1");
            assert_eq!(case.received_area_code, "E09000001");
            assert_eq!(case.decision.as_ref().unwrap().reason, "why");
            assert!(case.heard_on.is_empty());
            match details {
                referral::Details::DomesticAbuse(_) => {
                    assert_eq!(case.domestic_abuse, Some(da.clone()));
                    assert!(case.community_marac.is_none() && case.prevent.is_none());
                }
                referral::Details::CommunityMarac(_) => {
                    assert_eq!(case.community_marac, Some(ccm.clone()));
                    assert!(case.domestic_abuse.is_none() && case.prevent.is_none());
                }
                referral::Details::Prevent(_) => {
                    assert_eq!(case.prevent, Some(prevent.clone()));
                    assert!(case.domestic_abuse.is_none() && case.community_marac.is_none());
                }
            }
        }
    }

    #[test]
    fn a_review_case_goes_to_the_review_queue_with_what_to_supply() {
        let r = referral(referral::Details::CommunityMarac(Default::default()));
        let d = Decision {
            outcome: Outcome::NeedsReview as i32,
            pathway: Pathway::CommunityMarac as i32,
            panel: Panel::Review as i32,
            destination_area_code: "E09000001".into(),
            criterion: Criterion::ResidenceUnresolved as i32,
            reason: "postcode could not be resolved".into(),
            action_required: "supply a full postcode".into(),
            ..Default::default()
        };
        let case = to_case(Some(r), Some(d), Destination::Review).unwrap();
        assert_eq!(case.panel, Panel::Review as i32);
        assert_eq!(case.area_code, "E09000001");
        let d = case.decision.unwrap();
        assert_eq!(d.action_required, "supply a full postcode");
        assert_eq!(d.reason, "postcode could not be resolved");

        // The review queue is decided by the event, not by the decision's panel.
        let r = referral(referral::Details::Prevent(Default::default()));
        let case = to_case(
            Some(r),
            Some(decision(Panel::Channel, "E09000001")),
            Destination::Review,
        )
        .unwrap();
        assert_eq!(case.panel, Panel::Review as i32);
    }

    #[test]
    fn events_that_cannot_make_a_visible_case_are_refused() {
        let ok = || referral(referral::Details::DomesticAbuse(Default::default()));
        let marac = || Some(decision(Panel::Marac, "E09000001"));
        let refused = |r: Option<Referral>, d: Option<Decision>| {
            to_case(r, d, Destination::DecidedPanel).unwrap_err()
        };
        assert!(refused(None, marac()).contains("without a referral"));
        assert!(refused(Some(ok()), None).contains("without a decision"));
        let mut bad_id = ok();
        bad_id.id = "nope".into();
        assert!(refused(Some(bad_id), marac()).contains("not a UUID"));
        let mut no_details = ok();
        no_details.details = None;
        assert!(refused(Some(no_details), marac()).contains("no details"));
        assert!(
            refused(Some(ok()), Some(decision(Panel::Unspecified, "E09000001")))
                .contains("names no panel")
        );
        assert!(
            refused(Some(ok()), Some(decision(Panel::Marac, ""))).contains("destination_area_code")
        );
    }
}
