//! Outcome and hearing events travel on separate queues and can arrive in any order: a relay
//! republishes a held-back event after later ones, a dead letter is replayed long after, a
//! consumer catches up on one queue before another. None of that may let an older event undo a
//! newer one: a review entry never outlives its resolution, intake never shows a superseded
//! outcome, and triage never moves a later hearing earlier.

mod support;

use chrono::{Duration as Days, Utc};
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::types::ShortString;
use lapin::{Connection, ConnectionProperties};
use prost::Message;
use refroute_e2e::{Sample, spawn_system};
use refroute_platform::messaging::Event;
use refroute_proto::v1::{
    CaseHeard, Panel, ReferralStatus, Residence, SupplyResidenceRequest, residence,
};
use std::time::Duration;
use support::{Published, outbox_events, publish, wait_applied};

fn postcode(p: &str) -> Option<Residence> {
    Some(Residence {
        kind: Some(residence::Kind::Postcode(p.into())),
    })
}

fn review_rows(referral_id: &str) -> String {
    format!(
        "SELECT count(*) FROM notification.queue_cases WHERE referral_id = '{referral_id}' AND panel = 'PANEL_REVIEW'"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_needs_review_replayed_after_its_resolution_leaves_no_review_entry_and_no_stale_status() {
    let system = spawn_system().await;
    let waiting = system
        .decide(
            Sample::new("Rita Replayed")
                .yes(16)
                .lives_at_postcode("BT1 1AA"),
        )
        .await;
    assert_eq!(waiting.status(), ReferralStatus::NeedsReview);
    // The review entry exists before anything resolves it.
    system
        .assert_count(&review_rows(&waiting.id), 1, Duration::from_secs(30))
        .await;
    let needs_review = outbox_events(&system, "triage", "referral.needs_review.v1", &waiting.id)
        .await
        .pop()
        .expect("triage announced the review");

    system
        .intake
        .clone()
        .supply_residence(SupplyResidenceRequest {
            referral_id: waiting.id.clone(),
            residence: postcode("E8 1EA"),
        })
        .await
        .unwrap();
    let resolved = system.outcome(&waiting.id).await;
    assert_eq!(resolved.status(), ReferralStatus::TransferRequested);
    system
        .assert_count(&review_rows(&waiting.id), 0, Duration::from_secs(30))
        .await;

    // A dead-letter replay of an older copy: same body and properties, a new message id, so
    // no inbox stops it. It reaches notification's review queue and intake's outcomes.
    let replayed = publish(&system, &needs_review).await;
    wait_applied(&system, "notification", replayed).await;
    wait_applied(&system, "intake", replayed).await;

    let now = system.outcome(&waiting.id).await;
    assert_eq!(
        now.status(),
        ReferralStatus::TransferRequested,
        "intake keeps the newer outcome"
    );
    system
        .assert_count(&review_rows(&waiting.id), 0, Duration::from_secs(1))
        .await;
    assert!(
        system
            .queue_of("E09000001", Panel::Review)
            .await
            .iter()
            .all(|c| c.referral_id != waiting.id),
        "no coordinator is shown a review that is over"
    );
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolution_consumed_before_its_needs_review_leaves_no_review_entry() {
    let mut system = spawn_system().await;
    system.stop("notification").await.unwrap();
    let waiting = system
        .decide(
            Sample::new("Otto Outoforder")
                .yes(16)
                .lives_at_postcode("BT1 1AA"),
        )
        .await;
    assert_eq!(waiting.status(), ReferralStatus::NeedsReview);
    system
        .intake
        .clone()
        .supply_residence(SupplyResidenceRequest {
            referral_id: waiting.id.clone(),
            residence: postcode("E8 1EA"),
        })
        .await
        .unwrap();
    assert_eq!(
        system.outcome(&waiting.id).await.status(),
        ReferralStatus::TransferRequested
    );

    // Notification's review queue lags: take its needs_review out of the way, let the
    // resolution be consumed first, then deliver the needs_review, original id and all.
    let conn = Connection::connect(&system.amqp_uri(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let got = channel
        .basic_get(
            ShortString::from("notification.referral-needs-review"),
            BasicGetOptions::default(),
        )
        .await
        .unwrap()
        .expect("the needs_review waits for notification");
    let late = Published {
        routing_key: got.delivery.routing_key.to_string(),
        message_type: got
            .delivery
            .properties
            .kind()
            .as_ref()
            .unwrap()
            .as_str()
            .to_string(),
        correlation_id: waiting.id.clone(),
        payload: got.delivery.data.clone(),
    };
    let late_id: uuid::Uuid = got
        .delivery
        .properties
        .message_id()
        .as_ref()
        .unwrap()
        .as_str()
        .parse()
        .unwrap();
    got.delivery
        .acker
        .ack(BasicAckOptions::default())
        .await
        .unwrap();
    conn.close(200, ShortString::from("taken")).await.unwrap();

    system.start("notification").await.unwrap();
    system
        .assert_count(
            "SELECT count(*) FROM notification.inbox WHERE consumer = 'notification.review-resolved'",
            1,
            Duration::from_secs(30),
        )
        .await;
    // Delivered now to the review queue alone, under its own message id.
    let conn = Connection::connect(&system.amqp_uri(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let props = lapin::BasicProperties::default()
        .with_message_id(ShortString::from(late_id.to_string()))
        .with_correlation_id(ShortString::from(late.correlation_id.as_str()))
        .with_type(ShortString::from(late.message_type.as_str()))
        .with_delivery_mode(2);
    channel
        .basic_publish(
            ShortString::from(""),
            ShortString::from("notification.referral-needs-review"),
            Default::default(),
            &late.payload,
            props,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    conn.close(200, ShortString::from("delivered"))
        .await
        .unwrap();
    wait_applied(&system, "notification", late_id).await;

    system
        .assert_count(&review_rows(&waiting.id), 0, Duration::from_secs(1))
        .await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_hearing_arriving_late_leaves_the_later_date_and_one_before_the_referral_is_ignored()
 {
    let system = spawn_system().await;
    let routed = system.decide(Sample::new("Hana Heard").yes(16)).await;
    assert_eq!(routed.status(), ReferralStatus::Routed);
    // As if referred a month ago, so that meetings since can be dated in the past.
    let today = Utc::now().date_naive();
    sqlx::query("UPDATE triage.marac_referrals SET referred_on = $2 WHERE referral_id = $1::uuid")
        .bind(&routed.id)
        .bind(today - Days::days(30))
        .execute(&system.pool)
        .await
        .unwrap();
    let heard = |date: chrono::NaiveDate| Published {
        routing_key: CaseHeard::ROUTING_KEY.into(),
        message_type: CaseHeard::TYPE.into(),
        correlation_id: routed.id.clone(),
        payload: CaseHeard {
            referral_id: routed.id.clone(),
            area_code: "E09000001".into(),
            panel: Panel::Marac as i32,
            meeting_date: date.to_string(),
        }
        .encode_to_vec(),
    };
    let heard_on = || async {
        let (d,): (Option<chrono::NaiveDate>,) = sqlx::query_as(
            "SELECT heard_on FROM triage.marac_referrals WHERE referral_id = $1::uuid",
        )
        .bind(&routed.id)
        .fetch_one(&system.pool)
        .await
        .unwrap();
        d
    };

    let later = today - Days::days(3);
    let earlier = today - Days::days(10);
    for date in [later, earlier] {
        let id = publish(&system, &heard(date)).await;
        wait_applied(&system, "triage", id).await;
    }
    assert_eq!(heard_on().await, Some(later), "the later meeting stays");

    let before_referral = today - Days::days(40);
    let id = publish(&system, &heard(before_referral)).await;
    wait_applied(&system, "triage", id).await;
    assert_eq!(
        heard_on().await,
        Some(later),
        "a meeting before the referral cannot have heard it"
    );
    system.shutdown().await;
}
