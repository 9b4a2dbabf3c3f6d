//! What crosses the boundary (docs/DOMAIN.md 4: "transfers carry only what the receiving panel
//! needs"). Each pathway's configuration lists the fields of its details that go; the rest stays
//! here. The do-not-inform list always goes, so the receiver never tells those people either;
//! the referrer's identity and reference never go (triage minimised them away already), nor
//! anything this deployment recorded about the referral (status, decision history).

use anyhow::bail;
use refroute_platform::settings::CrossingFields;
use refroute_proto::v1::{self, referral::Details};
use std::collections::BTreeSet;

/// Fields of `DomesticAbuseReferral`, by proto name.
const DOMESTIC_ABUSE: [&str; 11] = [
    "incident",
    "victim",
    "perpetrator",
    "dash_answers",
    "professional_judgement",
    "police_reported_incident_dates",
    "consent",
    "lawful_basis",
    "do_not_inform",
    "risk_indicators",
    "cannot_wait_for_next_meeting",
];
/// Those the receiving triage cannot decide without (its parse refuses the offer otherwise).
const DOMESTIC_ABUSE_NEEDED: [&str; 6] = [
    "incident",
    "victim",
    "perpetrator",
    "dash_answers",
    "consent",
    "lawful_basis",
];

/// Fields of `PreventReferral`, by proto name.
const PREVENT: [&str; 5] = [
    "incident",
    "subject",
    "concern_summary",
    "consent",
    "do_not_inform",
];
const PREVENT_NEEDED: [&str; 4] = ["incident", "subject", "concern_summary", "consent"];

/// The checked lists.
#[derive(Clone, Debug)]
pub struct Crossing {
    domestic_abuse: BTreeSet<&'static str>,
    prevent: BTreeSet<&'static str>,
}

fn checked(
    pathway: &str,
    listed: &[String],
    known: &[&'static str],
    needed: &[&'static str],
) -> anyhow::Result<BTreeSet<&'static str>> {
    let mut set = BTreeSet::from(["do_not_inform"]);
    for name in listed {
        let Some(field) = known.iter().find(|k| **k == name.trim()) else {
            bail!(
                "exchange.fields.{pathway} names '{name}', which is not a field of the pathway's details ({})",
                known.join(", ")
            );
        };
        set.insert(*field);
    }
    let missing: Vec<&str> = needed
        .iter()
        .filter(|n| !set.contains(**n))
        .copied()
        .collect();
    if !missing.is_empty() {
        bail!(
            "exchange.fields.{pathway} leaves out {}, without which the receiving area cannot decide the case",
            missing.join(", ")
        );
    }
    Ok(set)
}

impl Crossing {
    pub fn new(fields: &CrossingFields) -> anyhow::Result<Self> {
        Ok(Self {
            domestic_abuse: checked(
                "domestic_abuse",
                &fields.domestic_abuse,
                &DOMESTIC_ABUSE,
                &DOMESTIC_ABUSE_NEEDED,
            )?,
            prevent: checked("prevent", &fields.prevent, &PREVENT, &PREVENT_NEEDED)?,
        })
    }

    /// The case as it crosses: its id becomes the transfer id, and of its details only the
    /// listed fields are kept.
    pub fn apply(&self, referral: &v1::Referral, transfer_id: &str) -> v1::Referral {
        let mut out = v1::Referral {
            id: transfer_id.to_string(),
            referring_organisation: referral.referring_organisation.clone(),
            pathway: referral.pathway,
            received_area_code: referral.received_area_code.clone(),
            create_time: referral.create_time,
            details: referral.details.clone(),
            ..Default::default()
        };
        match &mut out.details {
            Some(Details::DomesticAbuse(da)) => self.domestic_abuse(da),
            Some(Details::Prevent(p)) => self.prevent(p),
            // Community MARAC cases stay with the panel where the behaviour is: never offered.
            Some(Details::CommunityMarac(_)) | None => {}
        }
        out
    }

    /// The field paths that cross for this referral's pathway (for the audit entry).
    pub fn fields(&self, referral: &v1::Referral) -> Vec<String> {
        let (prefix, set) = match referral.details {
            Some(Details::DomesticAbuse(_)) => ("domestic_abuse", &self.domestic_abuse),
            Some(Details::Prevent(_)) => ("prevent", &self.prevent),
            _ => return Vec::new(),
        };
        set.iter().map(|f| format!("{prefix}.{f}")).collect()
    }

    fn domestic_abuse(&self, da: &mut v1::DomesticAbuseReferral) {
        let keep = |f: &str| self.domestic_abuse.contains(f);
        if !keep("incident") {
            da.incident = None;
        }
        if !keep("victim") {
            da.victim = None;
        }
        if !keep("perpetrator") {
            da.perpetrator = None;
        }
        if !keep("dash_answers") {
            da.dash_answers.clear();
        }
        if !keep("professional_judgement") {
            da.professional_judgement = None;
        }
        if !keep("police_reported_incident_dates") {
            da.police_reported_incident_dates.clear();
        }
        if !keep("consent") {
            da.consent = 0;
        }
        if !keep("lawful_basis") {
            da.lawful_basis.clear();
        }
        if !keep("risk_indicators") {
            da.risk_indicators.clear();
        }
        if !keep("cannot_wait_for_next_meeting") {
            da.cannot_wait_for_next_meeting = false;
        }
    }

    fn prevent(&self, p: &mut v1::PreventReferral) {
        let keep = |f: &str| self.prevent.contains(f);
        if !keep("incident") {
            p.incident = None;
        }
        if !keep("subject") {
            p.subject = None;
        }
        if !keep("concern_summary") {
            p.concern_summary.clear();
        }
        if !keep("consent") {
            p.consent = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_cli::sample::{PreventSample, Sample, ToRequest};
    use refroute_platform::Settings;

    fn defaults() -> CrossingFields {
        Settings::defaults().unwrap().exchange.fields
    }

    fn referral(request: impl ToRequest) -> v1::Referral {
        let mut r = request.request().referral.unwrap();
        r.id = "original".into();
        r.received_area_code = "E09000001".into();
        r.referrer_reference = "REF-1".into();
        r.status = v1::ReferralStatus::TransferRequested as i32;
        r
    }

    fn da(r: &v1::Referral) -> &v1::DomesticAbuseReferral {
        match &r.details {
            Some(Details::DomesticAbuse(da)) => da,
            _ => panic!("not domestic abuse"),
        }
    }

    #[test]
    fn only_the_listed_fields_cross_and_do_not_inform_always_does() {
        let mut fields = defaults();
        fields
            .domestic_abuse
            .retain(|f| f != "police_reported_incident_dates" && f != "risk_indicators");
        let crossing = Crossing::new(&fields).unwrap();
        let mut original = referral(
            Sample::new("Ann Example")
                .police_incidents(3)
                .suicide_or_self_harm(),
        );
        if let Some(Details::DomesticAbuse(da)) = &mut original.details {
            da.do_not_inform = vec!["Uncle Bob".into()];
        }
        let crossed = crossing.apply(&original, "t-1");
        assert_eq!(crossed.id, "t-1");
        assert_eq!(
            crossed.referrer_reference, "",
            "the referrer's reference stays home"
        );
        assert_eq!(
            crossed.status, 0,
            "this deployment's processing state stays home"
        );
        let (before, after) = (da(&original), da(&crossed));
        assert!(
            !before.police_reported_incident_dates.is_empty() && !before.risk_indicators.is_empty()
        );
        assert!(after.police_reported_incident_dates.is_empty());
        assert!(after.risk_indicators.is_empty());
        assert_eq!(after.victim, before.victim);
        assert_eq!(after.dash_answers, before.dash_answers);
        assert_eq!(after.do_not_inform, vec!["Uncle Bob".to_string()]);
        assert!(
            !crossing
                .fields(&crossed)
                .contains(&"domestic_abuse.risk_indicators".to_string())
        );
        assert!(
            crossing
                .fields(&crossed)
                .contains(&"domestic_abuse.do_not_inform".to_string())
        );
    }

    #[test]
    fn a_prevent_case_crosses_whole_its_channel_panel_needs_all_of_it() {
        let original = referral(PreventSample::new("Sam Example"));
        let crossed = Crossing::new(&defaults()).unwrap().apply(&original, "t");
        assert_eq!(crossed.details, original.details);
        let mut fields = defaults();
        fields.prevent.retain(|f| f != "concern_summary");
        let err = Crossing::new(&fields).unwrap_err().to_string();
        assert!(err.contains("leaves out concern_summary"), "{err}");
    }

    #[test]
    fn unknown_names_and_missing_needed_fields_are_refused_naming_them() {
        let mut fields = defaults();
        fields.domestic_abuse.push("victims".into());
        let err = Crossing::new(&fields).unwrap_err().to_string();
        assert!(
            err.contains("exchange.fields.domestic_abuse") && err.contains("'victims'"),
            "{err}"
        );
        let mut fields = defaults();
        fields.prevent.retain(|f| f != "subject");
        let err = Crossing::new(&fields).unwrap_err().to_string();
        assert!(
            err.contains("exchange.fields.prevent leaves out subject"),
            "{err}"
        );
    }

    /// The lists of what the receiver needs are what its parse needs: leaving out a field not
    /// listed as needed still parses; leaving out a needed one does not.
    #[test]
    fn the_needed_fields_are_those_the_receiving_parse_requires() {
        let directory =
            refroute_platform::reference::directory(&Settings::defaults().unwrap().directory)
                .unwrap();
        let today = chrono::Utc::now().date_naive();
        let cx = refroute_wire::referral::Context {
            directory: &directory,
            today,
        };
        for (request, known, needed, prefix) in [
            (
                referral(
                    Sample::new("Ann Example")
                        .professional_judgement("escalating")
                        .police_incidents(2)
                        .suicide_or_self_harm(),
                ),
                &DOMESTIC_ABUSE[..],
                &DOMESTIC_ABUSE_NEEDED[..],
                "domestic_abuse",
            ),
            (
                referral(PreventSample::new("Sam Example")),
                &PREVENT[..],
                &PREVENT_NEEDED[..],
                "prevent",
            ),
        ] {
            for field in known.iter().filter(|f| **f != "do_not_inform") {
                let listed: Vec<String> = known
                    .iter()
                    .filter(|f| *f != field)
                    .map(|f| f.to_string())
                    .collect();
                let set = checked(prefix, &listed, known, &[]).unwrap();
                let crossing = Crossing {
                    domestic_abuse: if prefix == "domestic_abuse" {
                        set.clone()
                    } else {
                        BTreeSet::new()
                    },
                    prevent: if prefix == "prevent" {
                        set
                    } else {
                        BTreeSet::new()
                    },
                };
                let crossed = crossing.apply(&request, "00000000-0000-7000-8000-000000000001");
                let parses = refroute_wire::referral::parse(&crossed, &cx).is_ok();
                assert_eq!(
                    parses,
                    !needed.contains(field),
                    "{prefix}.{field}: parses without it = {parses}"
                );
            }
        }
    }
}
