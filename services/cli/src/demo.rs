//! `refroute demo`: posts one referral per outcome on each of the three pathways (domestic-abuse
//! MARAC, Community MARAC, Prevent) and prints where each went and why. The end-to-end tests run
//! it too, so the demo cannot silently drift from the rules.
//!
//! It assumes the deployment's defaults: referrals are received by the City of London
//! (E09000001) under the shipped rule set.

use crate::render;
use crate::sample::{CommunitySample, PreventSample, Sample};
use anyhow::{Context, bail};
use refroute_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use refroute_proto::v1::intake_service_client::IntakeServiceClient;
use refroute_proto::v1::transfer_service_client::TransferServiceClient;
use refroute_proto::v1::{
    Concern, CreateReferralRequest, Criterion, DeliveryState, GetReferralRequest,
    GetTransferRequest, ListDeliveriesRequest, ListTransfersRequest, Panel, Pathway, Referral,
    ReferralStatus, TransferKind,
};
use std::io::Write;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// The area the demo's referrals are received in.
pub const CITY: &str = "E09000001";

pub struct Scenario {
    pub label: &'static str,
    pub pathway: Pathway,
    pub request: CreateReferralRequest,
    pub expect_status: ReferralStatus,
    pub expect_criterion: Criterion,
    /// The area whose panel hears the case (or is asked to, for a transfer).
    pub expect_destination: &'static str,
    pub expect_panel: Panel,
    pub expect_transfer: TransferKind,
}

/// One referral per outcome on each pathway. `tag` keeps the people of different runs apart
/// (the repeat scenario must find the first victim of its own run, not of an earlier one).
pub fn scenarios(tag: &str) -> Vec<Scenario> {
    let person = |n: &str| format!("Demo {n} {tag}");
    let reference = |n: u32| format!("DEMO-{tag}-{n:02}");
    struct S {
        label: &'static str,
        request: CreateReferralRequest,
        pathway: Pathway,
        status: ReferralStatus,
        criterion: Criterion,
        destination: &'static str,
        panel: Panel,
        transfer: TransferKind,
    }
    use Criterion as C;
    use ReferralStatus as St;
    let da = Pathway::DomesticAbuse;
    let cm = Pathway::CommunityMarac;
    let pv = Pathway::Prevent;
    let none = TransferKind::Unspecified;
    let rows = vec![
        S {
            label: "Domestic abuse: DASH 16 of 24, victim lives at EC2M 7PY in the City",
            request: Sample::new(person("Ada"))
                .yes(16)
                .lives_at_postcode("EC2M 7PY")
                .reference(&reference(1))
                .request(),
            pathway: da,
            status: St::Routed,
            criterion: C::VisibleHighRisk,
            destination: CITY,
            panel: Panel::Marac,
            transfer: none,
        },
        S {
            label: "Domestic abuse: DASH 13 of 24, nothing else",
            request: Sample::new(person("Bea"))
                .yes(13)
                .reference(&reference(2))
                .request(),
            pathway: da,
            status: St::BelowThreshold,
            criterion: C::Unspecified,
            destination: CITY,
            panel: Panel::Marac,
            transfer: none,
        },
        S {
            label: "Domestic abuse: DASH 4, professional judgement with reasons",
            request: Sample::new(person("Cleo"))
                .yes(4)
                .professional_judgement(
                    "Victim disclosed strangulation; perpetrator recently released",
                )
                .reference(&reference(3))
                .request(),
            pathway: da,
            status: St::Routed,
            criterion: C::ProfessionalJudgement,
            destination: CITY,
            panel: Panel::Marac,
            transfer: none,
        },
        S {
            label: "Domestic abuse: DASH 5, three police-reported incidents this year",
            request: Sample::new(person("Dina"))
                .yes(5)
                .police_incidents(3)
                .reference(&reference(4))
                .request(),
            pathway: da,
            status: St::Routed,
            criterion: C::PotentialEscalation,
            destination: CITY,
            panel: Panel::Marac,
            transfer: none,
        },
        S {
            label: "Domestic abuse: DASH 15, victim lives at E8 1EA in Hackney",
            request: Sample::new(person("Edie"))
                .yes(15)
                .lives_at_postcode("E8 1EA")
                .reference(&reference(5))
                .request(),
            pathway: da,
            status: St::TransferRequested,
            criterion: C::VisibleHighRisk,
            destination: "E09000012",
            panel: Panel::Marac,
            transfer: TransferKind::MaracToMarac,
        },
        S {
            label: "Domestic abuse: DASH 2, a new incident against the first victim",
            request: Sample::new(person("Ada"))
                .yes(2)
                .incident_days_ago(0)
                .lives_at_postcode("EC2M 7PY")
                .reference(&reference(6))
                .request(),
            pathway: da,
            status: St::Routed,
            criterion: C::Repeat,
            destination: CITY,
            panel: Panel::Marac,
            transfer: none,
        },
        S {
            label: "Domestic abuse: DASH 17, victim has no fixed abode, incident in the City",
            request: Sample::new(person("Faye"))
                .yes(17)
                .no_fixed_abode()
                .reference(&reference(7))
                .request(),
            pathway: da,
            status: St::Routed,
            criterion: C::VisibleHighRisk,
            destination: CITY,
            panel: Panel::Marac,
            transfer: none,
        },
        S {
            label: "Domestic abuse: DASH 18, only a partial postcode (EC2M) given",
            request: Sample::new(person("Gwen"))
                .yes(18)
                .lives_at_postcode("EC2M")
                .reference(&reference(8))
                .request(),
            pathway: da,
            status: St::NeedsReview,
            criterion: C::ResidenceUnresolved,
            destination: CITY,
            panel: Panel::Review,
            transfer: none,
        },
        S {
            label: "Community MARAC: anti-social behaviour, vulnerable person living in Hackney",
            request: CommunitySample::new(person("Hal"))
                .lives_at_postcode("E8 1EA")
                .reference(&reference(9))
                .request(),
            pathway: cm,
            status: St::Routed,
            criterion: C::AsbWithVulnerability,
            destination: CITY,
            panel: Panel::CommunityMarac,
            transfer: none,
        },
        S {
            label: "Community MARAC: threats of suicide from a City bridge, nothing else",
            request: CommunitySample::new(person("Ivo"))
                .concerns(&[Concern::SuicideThreat])
                .reference(&reference(10))
                .request(),
            pathway: cm,
            status: St::Declined,
            criterion: C::SuicideRiskAlone,
            destination: CITY,
            panel: Panel::CommunityMarac,
            transfer: none,
        },
        S {
            label: "Community MARAC: anti-social behaviour, no vulnerability",
            request: CommunitySample::new(person("Jem"))
                .not_vulnerable()
                .reference(&reference(11))
                .request(),
            pathway: cm,
            status: St::BelowThreshold,
            criterion: C::Unspecified,
            destination: CITY,
            panel: Panel::CommunityMarac,
            transfer: none,
        },
        S {
            label: "Prevent: radicalisation concern, person lives at EC2M 7PY in the City",
            request: PreventSample::new(person("Kit"))
                .lives_at_postcode("EC2M 7PY")
                .reference(&reference(12))
                .request(),
            pathway: pv,
            status: St::Routed,
            criterion: C::RadicalisationConcern,
            destination: CITY,
            panel: Panel::Channel,
            transfer: none,
        },
        S {
            label: "Prevent: person now in temporary accommodation at ME7 1AA, Gillingham",
            request: PreventSample::new(person("Lew"))
                .lives_at_postcode("ME7 1AA")
                .reference(&reference(13))
                .request(),
            pathway: pv,
            status: St::TransferRequested,
            criterion: C::RadicalisationConcern,
            destination: "E06000035",
            panel: Panel::Channel,
            transfer: TransferKind::PreventHandover,
        },
        S {
            label: "Prevent: a 16-year-old in the City, consent given by a parent",
            request: PreventSample::new(person("Mo"))
                .age(16)
                .reference(&reference(14))
                .request(),
            pathway: pv,
            status: St::Routed,
            criterion: C::RadicalisationConcern,
            destination: CITY,
            panel: Panel::Channel,
            transfer: none,
        },
    ];
    rows.into_iter()
        .map(|s| Scenario {
            label: s.label,
            pathway: s.pathway,
            request: s.request,
            expect_status: s.status,
            expect_criterion: s.criterion,
            expect_destination: s.destination,
            expect_panel: s.panel,
            expect_transfer: s.transfer,
        })
        .collect()
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

/// The City's queues the demo shows, and which organisation of the development PKI
/// coordinates each.
pub const CITY_COORDINATORS: &[(Panel, &str)] = &[
    (Panel::Marac, "city-marac"),
    (Panel::CommunityMarac, "city-community-marac"),
    (Panel::Channel, "city-channel"),
    (Panel::Review, "city-marac"),
];

/// Runs every scenario in order (the repeat needs the first decided), reports each, then shows
/// how many cases each of the City's queues holds, each read through its coordinator's client
/// in `queues`.
pub async fn run(
    intake: &mut IntakeServiceClient<Channel>,
    queues: Vec<(Panel, CoordinatorServiceClient<Channel>)>,
    out: &mut dyn Write,
) -> anyhow::Result<Vec<(Scenario, Referral)>> {
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let mut results = Vec::new();
    for (i, scenario) in scenarios(tag).into_iter().enumerate() {
        let created = intake
            .create_referral(scenario.request.clone())
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
    writeln!(out, "\nCity of London (E09000001) queues now:")?;
    for (panel, mut coordinator) in queues {
        let name = match panel {
            Panel::Marac => "MARAC",
            Panel::CommunityMarac => "Community MARAC",
            Panel::Channel => "Channel panel",
            _ => "review queue",
        };
        let cases = crate::whole_queue_of(&mut coordinator, CITY, panel)
            .await
            .with_context(|| format!("listing the City's {name}"))?;
        let ours: Vec<_> = cases
            .iter()
            .filter(|c| results.iter().any(|(_, r)| r.id == c.referral_id))
            .collect();
        writeln!(
            out,
            "  {name}: {} case(s), {} from this demo",
            cases.len(),
            ours.len()
        )?;
        for case in ours {
            writeln!(out, "    {}", render::case(case).replace('\n', "\n    "))?;
        }
    }
    Ok(results)
}

/// Prints who was told what of each referral the demo posted, as the operator sees it
/// (`ListDeliveries`), once every delivery has settled (sent, given up, refused) or `within`
/// has passed.
pub async fn told(
    operator: &mut CoordinatorServiceClient<Channel>,
    results: &[(Scenario, Referral)],
    within: Duration,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    writeln!(out, "\nWho was told what:")?;
    let deadline = std::time::Instant::now() + within;
    for (i, (scenario, referral)) in results.iter().enumerate() {
        let deliveries = loop {
            let listed = operator
                .list_deliveries(ListDeliveriesRequest {
                    referral_id: referral.id.clone(),
                })
                .await
                .with_context(|| {
                    format!("listing the deliveries of scenario '{}'", scenario.label)
                })?
                .into_inner()
                .deliveries;
            let settling = listed
                .iter()
                .any(|d| matches!(d.state(), DeliveryState::Pending | DeliveryState::Failed));
            if !settling || std::time::Instant::now() > deadline {
                break listed;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        writeln!(out, "{}. {}", i + 1, scenario.label)?;
        if deliveries.is_empty() {
            writeln!(out, "   nobody")?;
        }
        for d in &deliveries {
            writeln!(out, "   {}", render::delivery(d))?;
        }
    }
    Ok(())
}

/// Prints where each transfer the demo asked for stands, with its steps, as the operator sees
/// it (`ListTransfers`). The quick start runs one deployment, so a transfer goes to the
/// destination's directory contact and waits there for its acknowledgement.
pub async fn transfers(
    operator: &mut TransferServiceClient<Channel>,
    results: &[(Scenario, Referral)],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let listed = operator
        .list_transfers(ListTransfersRequest::default())
        .await
        .context("listing the transfers")?
        .into_inner()
        .transfers;
    writeln!(out, "\nTransfers:")?;
    for (scenario, referral) in results {
        if let Some(found) = listed.iter().find(|t| t.referral_id == referral.id) {
            let t = operator
                .get_transfer(GetTransferRequest {
                    transfer_id: found.transfer_id.clone(),
                })
                .await
                .context("reading a transfer")?
                .into_inner();
            let t = &t;
            writeln!(out, "  {}", scenario.label)?;
            writeln!(
                out,
                "  {}",
                render::transfer_history(t).replace('\n', "\n  ")
            )?;
            if t.route == "contact" {
                writeln!(
                    out,
                    "  (closed by: refroute transfers acknowledge {} --code <the code in its email> --by \"<who>\")",
                    t.transfer_id
                )?;
            }
        }
    }
    Ok(())
}
