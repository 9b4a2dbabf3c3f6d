//! Arbitrary bytes as a `CreateReferralRequest`: the parse never panics, refuses with at most
//! 100 listed violations, and every referral it accepts is one triage can decide: the stored
//! (canonical) form parses again to the same referral, its residence resolves, its pathway's
//! rules decide it and the decision goes back to the wire.

#![no_main]

use chrono::{NaiveDate, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use prost::Message;
use refroute_domain::{AreaCode, Directory, RuleSet, community, marac, prevent};
use refroute_geography::{GssCode, Postcode, PostcodeStatus, PostcodeTable, Row};
use refroute_proto::v1::CreateReferralRequest;
use refroute_wire::referral::{self, Context};
use refroute_wire::violation::MAX_VIOLATIONS;
use refroute_wire::{PathwayCase, case, decision, request, residence};
use std::sync::LazyLock;

struct World {
    directory: Directory,
    rules: RuleSet,
    postcodes: PostcodeTable,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let directory = Directory::from_toml(refroute_geography::SHIPPED_AREAS).expect("areas");
    let rules = RuleSet::parse(include_str!("../../../../config/rules.toml"), &directory)
        .expect("the shipped rules");
    World {
        directory,
        rules,
        postcodes: postcodes(),
    }
});

/// A few postcodes of each kind the table reports, in place of the 727,303 shipped rows (whose
/// loading would dominate an unoptimised fuzz run; their resolution is tested against the source
/// data elsewhere). The fuzzer finds these strings in the seeds and the dictionary it builds.
fn postcodes() -> PostcodeTable {
    let row = |postcode, laua, status| Row {
        postcode: Postcode::parse(postcode).expect("a postcode"),
        laua: GssCode::parse(laua).expect("a GSS code"),
        status,
    };
    PostcodeTable::from_rows([
        row("EC2M 7PY", "E09000001", PostcodeStatus::Live),
        row("E8 1EA", "E09000012", PostcodeStatus::Live),
        row("ME7 1AA", "E06000035", PostcodeStatus::NotRecorded),
        row("SW1A 1AA", "E09000033", PostcodeStatus::Live),
        row("W1M 1AA", "E09000033", PostcodeStatus::Terminated),
    ])
    .expect("a table")
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = CreateReferralRequest::decode(data) else {
        return;
    };
    let world = &*WORLD;
    let cx = Context {
        directory: &world.directory,
        today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
    };
    let new = match request::create(&request, &AreaCode::city_of_london(), &cx) {
        Ok(new) => new,
        Err(violations) => {
            assert!(!violations.is_empty());
            assert!(violations.len() <= MAX_VIOLATIONS + 1);
            return;
        }
    };
    let stored = referral::parse(&new.wire, &cx).expect("what intake stores parses again");
    assert_eq!(stored.resident(), new.referral.resident());
    assert_eq!(stored.pathway(), new.referral.pathway());

    let resolved = residence::resolve(
        stored.resident().residence.as_ref(),
        &world.postcodes,
        &world.directory,
    );
    let decided = match case::prepare(&stored, resolved) {
        PathwayCase::DomesticAbuse(c) => marac::decide(&c, &[], &world.rules, &world.directory),
        PathwayCase::CommunityMarac(c) => community::decide(&c, &world.rules, &world.directory),
        PathwayCase::Prevent(c) => prevent::decide(&c, &world.rules, &world.directory),
    };
    assert!(!decided.reason.is_empty(), "every decision says why");
    let on_the_wire = decision::to_wire(&decided, Utc.timestamp_opt(1_795_000_000, 0).unwrap());
    assert_eq!(on_the_wire.pathway, decision::pathway(stored.pathway()) as i32);
});
