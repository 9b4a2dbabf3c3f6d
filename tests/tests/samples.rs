//! The builders the demo and the tests post with (`refroute_cli::sample`) make requests intake
//! accepts, whatever combination of their options is used, so a test that expects an outcome
//! never fails on validation instead. The parse intake accepts by, no services needed.

use chrono::Utc;
use refroute_domain::AreaCode;
use refroute_e2e::{CommunitySample, PreventSample, Sample};
use refroute_platform::reference;
use refroute_platform::settings::DirectorySettings;
use refroute_proto::v1::{Concern, CreateReferralRequest, PreventConsent};
use refroute_wire::referral::Context;

fn check(what: &str, request: CreateReferralRequest) {
    let directory = reference::directory(&DirectorySettings {
        file: String::new(),
    })
    .unwrap();
    let cx = Context {
        directory: &directory,
        today: Utc::now().date_naive(),
    };
    if let Err(violations) =
        refroute_wire::request::create(&request, &AreaCode::city_of_london(), &cx)
    {
        panic!("{what} is refused: {violations:?}");
    }
}

#[test]
fn every_sample_builder_makes_a_valid_request() {
    let da = || Sample::new("Val Idate");
    for (what, s) in [
        ("default", da()),
        ("24 yes", da().yes(24)),
        ("0 yes", da().yes(0)),
        ("postcode", da().lives_at_postcode("EC2M 7PY")),
        ("partial postcode", da().lives_at_postcode("EC2M")),
        ("Northern Irish postcode", da().lives_at_postcode("BT1 1AA")),
        ("unknown postcode", da().lives_at_postcode("ZZ9 9ZZ")),
        ("no fixed abode", da().no_fixed_abode()),
        ("incident elsewhere", da().incident_in("E06000035")),
        ("suicide or self-harm", da().suicide_or_self_harm()),
        ("judgement", da().professional_judgement("a reason")),
        ("incidents", da().police_incidents(6)),
        (
            "incidents today",
            da().police_incidents(3).incident_days_ago(0),
        ),
        ("born", da().born("1960-01-31")),
    ] {
        check(&format!("Sample {what}"), s.request());
    }

    let cm = || CommunitySample::new("Val Idate");
    for (what, s) in [
        ("default", cm()),
        ("not vulnerable", cm().not_vulnerable()),
        ("scored", cm().not_vulnerable().risk_score(1000)),
        ("suicide alone", cm().concerns(&[Concern::SuicideThreat])),
        (
            "every concern",
            cm().concerns(&[
                Concern::AntiSocialBehaviour,
                Concern::PublicDisorder,
                Concern::Crime,
                Concern::SuicideThreat,
                Concern::SuicideAttempt,
            ]),
        ),
        ("another reason", cm().vulnerable("Homeless")),
        ("postcode", cm().lives_at_postcode("E8 1EA")),
        ("no fixed abode", cm().no_fixed_abode()),
        (
            "elsewhere",
            cm().incident_in("E09000012").lives_in("E09000012"),
        ),
        ("consent not sought", cm().consent_not_sought()),
    ] {
        check(&format!("CommunitySample {what}"), s.request());
    }

    let pv = || PreventSample::new("Val Idate");
    for (what, s) in [
        ("default", pv()),
        ("aged 10", pv().age(10)),
        ("aged 17", pv().age(17)),
        ("aged 18", pv().age(18)),
        ("aged 80", pv().age(80)),
        ("not yet sought", pv().consent(PreventConsent::NotYetSought)),
        ("refused", pv().age(15).consent(PreventConsent::Refused)),
        ("postcode", pv().lives_at_postcode("ME7 1AA")),
        (
            "no fixed abode",
            pv().no_fixed_abode().incident_in("E09000019"),
        ),
    ] {
        check(&format!("PreventSample {what}"), s.request());
    }

    for scenario in refroute_cli::demo::scenarios("check") {
        check(scenario.label, scenario.request);
    }
}

/// The check above can fail: a request intake refuses is caught.
#[test]
#[should_panic(expected = "is refused")]
fn an_invalid_request_is_caught() {
    let mut request = PreventSample::new("Val Idate").age(16).request();
    if let Some(refroute_proto::v1::referral::Details::Prevent(p)) =
        request.referral.as_mut().and_then(|r| r.details.as_mut())
    {
        p.consent = PreventConsent::Given as i32;
    }
    check("a 16-year-old's own consent", request);
}
