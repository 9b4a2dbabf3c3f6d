//! `refroute demo`: posts a handful of referrals, one per outcome, and prints where each went
//! and why. The end-to-end tests run it too, so the demo cannot silently drift from the rules.

use crate::render;
use crate::sample::Sample;
use anyhow::{Context, bail};
use refroute_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use refroute_proto::v1::intake_service_client::IntakeServiceClient;
use refroute_proto::v1::{
    Criterion, GetReferralRequest, ListQueueRequest, Panel, Referral, ReferralStatus,
};
use std::io::Write;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

pub struct Scenario {
    pub label: &'static str,
    pub sample: Sample,
    pub expect_status: ReferralStatus,
    pub expect_criterion: Criterion,
}

/// One referral per criterion and outcome. `tag` keeps victims of different runs apart.
pub fn scenarios(tag: &str) -> Vec<Scenario> {
    let victim = |n: &str| format!("Demo {n} {tag}");
    let s = |label, sample, expect_status, expect_criterion| Scenario {
        label,
        sample,
        expect_status,
        expect_criterion,
    };
    vec![
        s(
            "DASH 16 of 24, victim lives in the City",
            Sample::new(victim("Ada")).yes(16).reference("COLP-DA-0001"),
            ReferralStatus::Routed,
            Criterion::VisibleHighRisk,
        ),
        s(
            "DASH 13 of 24, nothing else",
            Sample::new(victim("Bea")).yes(13),
            ReferralStatus::BelowThreshold,
            Criterion::Unspecified,
        ),
        s(
            "DASH 4, professional judgement with reasons",
            Sample::new(victim("Cleo")).yes(4).professional_judgement(
                "Victim disclosed strangulation; perpetrator recently released",
            ),
            ReferralStatus::Routed,
            Criterion::ProfessionalJudgement,
        ),
        s(
            "DASH 5, three police-reported incidents this year",
            Sample::new(victim("Dina")).yes(5).police_incidents(3),
            ReferralStatus::Routed,
            Criterion::PotentialEscalation,
        ),
        s(
            "DASH 15, victim lives in Hackney",
            Sample::new(victim("Edie")).yes(15).lives_in("E09000012"),
            ReferralStatus::TransferRequested,
            Criterion::VisibleHighRisk,
        ),
        s(
            "DASH 2, a new incident against the first victim",
            Sample::new(victim("Ada")).yes(2).incident_days_ago(0),
            ReferralStatus::Routed,
            Criterion::Repeat,
        ),
    ]
}

/// Polls `GetReferral` until triage has decided.
pub async fn await_outcome(
    intake: &mut IntakeServiceClient<Channel>,
    id: &str,
    timeout: Duration,
) -> anyhow::Result<Referral> {
    let start = Instant::now();
    loop {
        let r = intake
            .get_referral(GetReferralRequest { id: id.to_string() })
            .await?
            .into_inner();
        if r.status != ReferralStatus::Received as i32 {
            return Ok(r);
        }
        if start.elapsed() > timeout {
            bail!("referral {id} was not triaged within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs every scenario in order (the repeat needs the first decided) and reports each.
pub async fn run(
    intake: &mut IntakeServiceClient<Channel>,
    coordinator: &mut CoordinatorServiceClient<Channel>,
    out: &mut dyn Write,
) -> anyhow::Result<Vec<(Scenario, Referral)>> {
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let mut results = Vec::new();
    for (i, scenario) in scenarios(tag).into_iter().enumerate() {
        let created = intake
            .create_referral(scenario.sample.request())
            .await
            .with_context(|| format!("posting scenario '{}'", scenario.label))?
            .into_inner();
        let decided = await_outcome(intake, &created.id, Duration::from_secs(30)).await?;
        writeln!(
            out,
            "{}. {}\n   {}",
            i + 1,
            scenario.label,
            render::referral(&decided).replace('\n', "\n   ")
        )?;
        results.push((scenario, decided));
    }
    let queue = coordinator
        .list_queue(ListQueueRequest {
            area_code: "E09000001".into(),
            panel: Panel::Marac as i32,
            page_size: 500,
            page_token: String::new(),
        })
        .await?
        .into_inner();
    writeln!(
        out,
        "\nCity of London MARAC queue now holds {} case(s); the last few:",
        queue.cases.len()
    )?;
    for case in queue.cases.iter().rev().take(4).rev() {
        writeln!(out, "  {}", render::case(case).replace('\n', "\n  "))?;
    }
    Ok(results)
}
