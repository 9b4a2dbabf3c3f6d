//! Property: nothing a referrer sends can stop routing. Thousands of generated referrals, every
//! one a valid protobuf message with extreme values in its fields (empty, huge, control-character
//! and unusual Unicode text; dates from 5000 BC to 9999, tomorrow, not written YYYY-MM-DD;
//! enum numbers no enum has; huge repeated fields; every kind of residence; codes in lower case or
//! naming nothing), posted in batches to the real services. Each is either refused with
//! INVALID_ARGUMENT naming at least one field, or decided by triage (its status leaves RECEIVED)
//! within a deadline; after each batch an ordinary referral is still routed and queued within
//! seconds. Any other answer, and any referral still waiting ("stalled"), fails the test.
//!
//! `REFROUTE_PROPERTY_CASES` sets how many referrals (default 2000, in batches of 500) and
//! `REFROUTE_PROPERTY_SEED` the generator's seed (printed, so a failure can be replayed).

use chrono::{Datelike, Days, NaiveDate, Utc};
use futures_util::StreamExt;
use prost::Message;
use refroute_e2e::{Sample, TestSystem, spawn_system};
use refroute_proto::v1::{
    CommunityMaracReferral, CreateReferralRequest, Decision, DomesticAbuseReferral, Incident,
    Person, PreventReferral, ProfessionalJudgement, Referral, Residence, referral, residence,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic_types::StatusExt;

const BATCH: usize = 500;
/// How long the referrals intake took in one batch may take to be decided, once posted.
const BATCH_DEADLINE: Duration = Duration::from_secs(60);
/// How long the ordinary referral after a batch may take to be routed and queued.
const CANARY_DEADLINE: Duration = Duration::from_secs(20);
/// Under intake's 64 KiB request limit with room to spare: the test is about content, not size.
const MAX_ENCODED: usize = 60_000;

/// splitmix64: a few lines, good enough to spread choices, and the same sequence for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64) / ((1u64 << 53) as f64) < p
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
}

/// Makes one referral at a time. `wild` is the chance that any one field takes an extreme value
/// instead of an ordinary one; it varies per referral, so some are almost ordinary (and reach
/// triage) and some are nothing but extremes. `notes` says which extremes were chosen.
struct Gen {
    rng: Rng,
    today: NaiveDate,
    wild: f64,
    serial: u64,
    notes: Vec<String>,
    unnoted: usize,
    /// In a third of the referrals, the one choice (counted by `decisions`) that is extreme in an
    /// otherwise ordinary referral: the way one bad field slips past a check.
    single: Option<usize>,
    decisions: usize,
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push_str(&format!("…({} chars)", s.chars().count()));
    }
    format!("{out:?}")
}

impl Gen {
    fn extreme(&mut self) -> bool {
        self.decisions += 1;
        self.single == Some(self.decisions) || self.rng.chance(self.wild)
    }

    /// Records an extreme choice; the first few are enough to replay and read a failure.
    fn note(&mut self, field: &str, value: impl std::fmt::Display) {
        if self.notes.len() < 12 {
            self.notes.push(format!("{field}={value}"));
        } else {
            self.unnoted += 1;
        }
    }

    fn random_text(&mut self) -> String {
        const CHARS: &[char] = &[
            'a',
            'Z',
            '0',
            ' ',
            '-',
            '\'',
            '.',
            'é',
            'ß',
            'Ω',
            'ж',
            '李',
            'ع',
            '🙂',
            '\u{0}',
            '\u{7}',
            '\t',
            '\n',
            '\r',
            '\u{1b}',
            '\u{7f}',
            '\u{85}',
            '\u{a0}',
            '\u{200b}',
            '\u{202e}',
            '\u{2028}',
            '\u{feff}',
            '\u{301}',
            '\u{308}',
            '\u{fffd}',
            '\u{10ffff}',
        ];
        let len = self.rng.pick(&[1, 2, 5, 20, 199, 200, 201, 300]);
        (0..len).map(|_| self.rng.pick(CHARS)).collect()
    }

    fn extreme_text(&mut self) -> String {
        match self.rng.below(34) {
            0 => String::new(),
            1 => " ".into(),
            2 => "\t\n".into(),
            3 => "\u{0}".into(),
            4 => "a\u{0}b".into(),
            5 => "bell\u{7}".into(),
            6 => "line\nbreak".into(),
            7 => "\u{1b}[2J".into(),
            8 => "\u{7f}\u{85}".into(),
            9 => "\u{2028}sep".into(),
            10 => "\u{202e}txt.exe".into(),
            11 => "\u{feff}BOM".into(),
            12 => "zero\u{200b}width".into(),
            13 => "Zoë Ångström".into(),
            14 => "ZOE\u{308} A\u{30a}NGSTRO\u{308}M".into(),
            15 => "李小龍".into(),
            16 => "محمد علي".into(),
            17 => "🙂👩‍👩‍👧".into(),
            18 => "e\u{301}".repeat(150),
            19 => "\u{10ffff}\u{fffd}".into(),
            20 => "'; DROP TABLE intake.referrals; --".into(),
            21 => "%s%n%x{}{{}}".into(),
            22 => "x".repeat(200),
            23 => "x".repeat(201),
            24 => "x".repeat(2001),
            25 => "é".repeat(201),
            26 => "\u{a0}\u{a0}".into(),
            27 => "  padded  name  ".into(),
            28 => "O'Brien-Smith".into(),
            29 => "A".into(),
            30 => "y".repeat(8000),
            _ => self.random_text(),
        }
    }

    fn text(&mut self, field: &str, ordinary: &str) -> String {
        if self.extreme() {
            let s = self.extreme_text();
            self.note(field, clip(&s));
            s
        } else {
            ordinary.to_string()
        }
    }

    fn random_date(&mut self, from_year: i32, to: NaiveDate) -> NaiveDate {
        let from = NaiveDate::from_ymd_opt(from_year, 1, 1).unwrap();
        let span = (to - from).num_days().max(1) as usize;
        from + Days::new(self.rng.below(span) as u64)
    }

    fn extreme_date(&mut self) -> String {
        let today = self.today;
        match self.rng.below(33) {
            0 => "-5000-01-01".into(),
            30 => "-4714-01-01".into(),
            31 => "-9999-12-31".into(),
            32 => "-262143-01-01".into(),
            1 => "0001-01-01".into(),
            2 => "9999-12-31".into(),
            3 => "1900-01-01".into(),
            4 => "1899-12-31".into(),
            5 => today.to_string(),
            6 => (today + Days::new(1)).to_string(),
            7 => "+1990-01-02".into(),
            8 => "1990-1-2".into(),
            9 => "1990-01-2".into(),
            10 => "2026-02-30".into(),
            11 => "2024-02-29".into(),
            12 => "2023-02-29".into(),
            13 => String::new(),
            14 => " ".into(),
            15 => "yesterday".into(),
            16 => "1990/01/02".into(),
            17 => "02-01-1990".into(),
            18 => "1990-01-02T00:00:00Z".into(),
            19 => " 1990-01-02 ".into(),
            20 => "1990-01-02\u{0}".into(),
            21 => "99999-01-01".into(),
            22 => "-0001-12-31".into(),
            23 => "1970-01-01".into(),
            24 => "262143-12-31".into(),
            25 => {
                let d = self.random_date(1850, today + Days::new(400));
                format!("{}-{}-{}", d.year(), d.month(), d.day())
            }
            26 => (today - Days::new(365 * 121)).to_string(),
            _ => self.random_date(1850, today + Days::new(400)).to_string(),
        }
    }

    fn date(&mut self, field: &str, ordinary: NaiveDate) -> String {
        if self.extreme() {
            let s = self.extreme_date();
            self.note(field, clip(&s));
            s
        } else {
            ordinary.to_string()
        }
    }

    fn extreme_code(&mut self) -> String {
        match self.rng.below(18) {
            0 => "e09000001".into(),
            1 => " E09000012 ".into(),
            2 => "E08000003".into(),
            3 => "E07999999".into(),
            4 => "W06000015".into(),
            5 => "S12000036".into(),
            6 => "N09000003".into(),
            7 => "E09000034".into(),
            8 => String::new(),
            9 => "E0900000".into(),
            10 => "E090000010".into(),
            11 => "Z99999999".into(),
            12 => "E09000001\u{0}".into(),
            13 => "ｅ09000001".into(),
            _ => {
                let letter = self.rng.pick(&['E', 'W', 'S', 'N', 'e', 'K', 'X']);
                let kind = self.rng.pick(&["06", "07", "08", "09", "12", "10", "00"]);
                format!("{letter}{kind}{:06}", self.rng.below(1_000_000))
            }
        }
    }

    fn code(&mut self, field: &str, ordinary: &str) -> String {
        if self.extreme() {
            let s = self.extreme_code();
            self.note(field, clip(&s));
            s
        } else {
            ordinary.to_string()
        }
    }

    fn extreme_postcode(&mut self) -> String {
        match self.rng.below(14) {
            0 => "ec2m7py".into(),
            1 => "EC2M".into(),
            2 => "BT1 1AA".into(),
            3 => "ZZ9 9ZZ".into(),
            4 => "SW1A 1AAX".into(),
            5 => String::new(),
            6 => "X".repeat(17),
            7 => "EC2M 7PY\u{0}".into(),
            8 => "  e8   1ea  ".into(),
            9 => "ME7 1AA".into(),
            10 => "ＥＣ２Ｍ ７ＰＹ".into(),
            _ => {
                let l = |r: &mut Rng| (b'A' + r.below(26) as u8) as char;
                let d = |r: &mut Rng| (b'0' + r.below(10) as u8) as char;
                let r = &mut self.rng;
                format!("{}{}{} {}{}{}", l(r), l(r), d(r), d(r), l(r), l(r))
            }
        }
    }

    /// Every kind of residence, and none.
    fn residence(&mut self, field: &str) -> Option<Residence> {
        if !self.extreme() {
            let kind = match self.rng.below(6) {
                0 => residence::Kind::Postcode("EC2M 7PY".into()),
                1 => residence::Kind::Postcode("E8 1EA".into()),
                2 => residence::Kind::LocalAuthorityCode("E09000012".into()),
                _ => residence::Kind::LocalAuthorityCode("E09000001".into()),
            };
            return Some(Residence { kind: Some(kind) });
        }
        let kind = match self.rng.below(7) {
            0 => None,
            1 => Some(residence::Kind::NoFixedAbode(false)),
            2 => Some(residence::Kind::NoFixedAbode(true)),
            3 | 4 => Some(residence::Kind::Postcode(self.extreme_postcode())),
            _ => Some(residence::Kind::LocalAuthorityCode(self.extreme_code())),
        };
        self.note(field, clip(&format!("{kind:?}")));
        // Sometimes no residence message at all, sometimes one with no kind set.
        if kind.is_none() && self.rng.chance(0.5) {
            return None;
        }
        Some(Residence { kind })
    }

    /// An enum field: ordinarily one of `valid`, otherwise a number no enum has.
    fn enum_int(&mut self, field: &str, valid: &[i32]) -> i32 {
        if self.extreme() {
            let n = self.rng.pick(&[0, -1, 99, 6, i32::MAX, i32::MIN, 1, 2, 3]);
            self.note(field, n);
            n
        } else {
            self.rng.pick(valid)
        }
    }

    /// How many elements a repeated field gets: ordinarily `ordinary`.
    fn count(&mut self, field: &str, ordinary: usize) -> usize {
        if self.extreme() {
            let n = self.rng.pick(&[0, 1, 23, 25, 100, 101, 1000, 20_000]);
            self.note(field, format!("{n} elements"));
            n
        } else {
            ordinary
        }
    }

    fn incident(&mut self, path: &str, date: NaiveDate) -> Option<Incident> {
        if self.extreme() && self.rng.chance(0.2) {
            self.note(&format!("{path}.incident"), "none");
            return None;
        }
        let ordinary_area = self.rng.pick(&["E09000001", "E09000001", "E09000012"]);
        Some(Incident {
            date: self.date(&format!("{path}.incident.date"), date),
            area_code: self.code(&format!("{path}.incident.area_code"), ordinary_area),
        })
    }

    fn name(&mut self) -> String {
        // A small pool of people, so repeats and escalation across referrals happen too.
        format!(
            "{} {}",
            self.rng.pick(&["Pat", "Sam", "Jo", "Alex", "Zoë"]),
            self.rng.pick(&["Random", "Fuzz", "Ångström", "Smith"])
        )
    }

    fn person(&mut self, path: &str, dob: Option<NaiveDate>, lives: bool) -> Option<Person> {
        if self.extreme() && self.rng.chance(0.2) {
            self.note(path, "none");
            return None;
        }
        let name = self.name();
        let date_of_birth = match dob {
            Some(d) => self.date(&format!("{path}.date_of_birth"), d),
            None if self.extreme() => {
                let s = self.extreme_date();
                self.note(&format!("{path}.date_of_birth"), clip(&s));
                s
            }
            None => String::new(),
        };
        Some(Person {
            full_name: self.text(&format!("{path}.full_name"), &name),
            date_of_birth,
            residence: if lives {
                self.residence(&format!("{path}.residence"))
            } else {
                None
            },
        })
    }

    fn texts(&mut self, field: &str, ordinary: &[&str]) -> Vec<String> {
        let n = self.count(field, ordinary.len());
        (0..n)
            .map(|i| {
                let o = ordinary.get(i).copied().unwrap_or("another");
                self.text(&format!("{field}[{i}]"), o)
            })
            .collect()
    }

    fn domestic_abuse(&mut self) -> DomesticAbuseReferral {
        const P: &str = "domestic_abuse";
        let today = self.today;
        let dob = self.random_date(1930, today - Days::new(365 * 16));
        let incident_date = today - Days::new(self.rng.below(400) as u64);
        let yes = self.rng.below(25);
        let n = self.count("dash_answers", 24);
        let dash_answers = (0..n)
            .map(|i| {
                if self.rng.chance(self.wild / 10.0) {
                    self.rng.pick(&[0, 4, -1, 99, i32::MAX])
                } else if i < yes {
                    1
                } else {
                    self.rng.pick(&[2, 3])
                }
            })
            .collect();
        let applies = self.rng.chance(0.2);
        let reasons = if applies {
            vec!["Escalating coercive control; victim fears for her life"]
        } else {
            vec![]
        };
        let incidents = self.rng.below(4);
        let n = self.count("police_reported_incident_dates", incidents);
        let police = (0..n)
            .map(|i| {
                let ordinary = incident_date - Days::new(30 * i as u64);
                self.date(&format!("police_reported_incident_dates[{i}]"), ordinary)
            })
            .collect();
        let consent = self.enum_int(&format!("{P}.consent"), &[1, 2, 3]);
        let some = usize::from(self.rng.chance(0.2));
        let n = self.count("risk_indicators", some);
        let risk_indicators = (0..n)
            .map(|_| {
                if self.rng.chance(self.wild / 4.0) {
                    self.rng.pick(&[0, 2, -5, i32::MAX])
                } else {
                    1
                }
            })
            .collect();
        DomesticAbuseReferral {
            incident: self.incident(P, incident_date),
            victim: self.person(&format!("{P}.victim"), Some(dob), true),
            perpetrator: {
                let lives = self.rng.chance(0.1);
                self.person(&format!("{P}.perpetrator"), None, lives)
            },
            dash_answers,
            professional_judgement: if self.extreme() && self.rng.chance(0.3) {
                self.note("professional_judgement", "none");
                None
            } else {
                Some(ProfessionalJudgement {
                    applies: if self.extreme() { !applies } else { applies },
                    reasons: self.texts("professional_judgement.reasons", &reasons),
                })
            },
            police_reported_incident_dates: police,
            consent,
            lawful_basis: self.text("lawful_basis", refroute_cli::sample::LAWFUL_BASIS),
            do_not_inform: self.texts("do_not_inform", &["Partner of the victim"]),
            risk_indicators,
            cannot_wait_for_next_meeting: false,
        }
    }

    fn community_marac(&mut self) -> CommunityMaracReferral {
        const P: &str = "community_marac";
        let today = self.today;
        let incident_date = today - Days::new(self.rng.below(60) as u64);
        let dob = self
            .rng
            .chance(0.5)
            .then(|| self.random_date(1930, today - Days::new(365 * 18)));
        let some = 1 + self.rng.below(3);
        let n = self.count("concerns", some);
        let concerns = (0..n)
            .map(|_| {
                if self.rng.chance(self.wild / 4.0) {
                    self.rng.pick(&[0, 6, -1, i32::MAX])
                } else {
                    1 + self.rng.below(5) as i32
                }
            })
            .collect();
        let vulnerable = self.rng.chance(0.7);
        let reasons: &[&str] = if vulnerable {
            &["Learning disability; exploited by local dealers"]
        } else {
            &[]
        };
        let risk_score = match self.rng.below(4) {
            0 => Some(self.rng.below(60) as u32),
            _ if self.extreme() => {
                let s = self.rng.pick(&[0, 1000, 1001, u32::MAX]);
                self.note("risk_score", s);
                Some(s)
            }
            _ => None,
        };
        let consent = self.enum_int(&format!("{P}.consent"), &[1, 1, 2, 3]);
        CommunityMaracReferral {
            incident: self.incident(P, incident_date),
            subject: self.person(&format!("{P}.subject"), dob, true),
            concerns,
            vulnerable: if self.extreme() {
                !vulnerable
            } else {
                vulnerable
            },
            vulnerability_reasons: self.texts("vulnerability_reasons", reasons),
            risk_score,
            consent,
            lawful_basis: if consent == 1 && !self.extreme() {
                String::new()
            } else {
                self.text("lawful_basis", refroute_cli::sample::LAWFUL_BASIS)
            },
            do_not_inform: self.texts("do_not_inform", &[]),
        }
    }

    fn prevent(&mut self) -> PreventReferral {
        const P: &str = "prevent";
        let today = self.today;
        let incident_date = today - Days::new(self.rng.below(60) as u64);
        let age = self.rng.below(90) as u64;
        let dob = today - Days::new(365 * age + 40);
        // The consent an age calls for: a parent's under 18, the person's own from 18.
        let consent = if age < 18 { [3, 1, 4] } else { [2, 1, 4] };
        PreventReferral {
            incident: self.incident(P, incident_date),
            subject: self.person(&format!("{P}.subject"), Some(dob), true),
            concern_summary: self.text(
                "concern_summary",
                "Sharing extremist material with younger pupils; talk of travel",
            ),
            consent: self.enum_int(&format!("{P}.consent"), &consent),
            do_not_inform: self.texts("do_not_inform", &[]),
        }
    }

    fn request(&mut self) -> CreateReferralRequest {
        self.serial += 1;
        self.notes.clear();
        self.unnoted = 0;
        self.decisions = 0;
        if self.rng.chance(1.0 / 3.0) {
            self.wild = 0.0;
            self.single = Some(1 + self.rng.below(30));
        } else {
            self.wild = self.rng.pick(&[0.0, 0.02, 0.05, 0.15, 0.4, 0.9]);
            self.single = None;
        }
        let details = match self.rng.below(10) {
            0..=5 => Some(referral::Details::DomesticAbuse(self.domestic_abuse())),
            6 | 7 => Some(referral::Details::CommunityMarac(self.community_marac())),
            _ => Some(referral::Details::Prevent(self.prevent())),
        };
        let details = if self.extreme() && self.rng.chance(0.1) {
            self.note("details", "none");
            None
        } else {
            details
        };
        let mut referral = Referral {
            // The caller's own, named or left empty: any other value is refused for naming
            // someone else before it is parsed (tests/tests/access_scope.rs).
            referring_organisation: if self.rng.chance(0.5) {
                "City of London Police".into()
            } else {
                String::new()
            },
            referrer_reference: self.text("referrer_reference", ""),
            pathway: self.enum_int("pathway", &[0]),
            details,
            ..Default::default()
        };
        // Fields the server assigns: whatever a client puts there is not taken on trust.
        if self.extreme() {
            self.note("server fields", "set");
            referral.id = self.extreme_text();
            referral.received_area_code = self.extreme_code();
            referral.status = self.rng.pick(&[2, 5, 99, -1]);
            referral.decision = Some(Decision {
                reason: self.extreme_text(),
                destination_area_code: self.extreme_code(),
                ..Default::default()
            });
            referral.create_time = Some(Default::default());
            if let Some(t) = referral.create_time.as_mut() {
                t.seconds = i64::MIN / 2;
            }
        }
        let request_id = if self.extreme() {
            let s = format!("{}{}", self.extreme_text(), self.serial);
            self.note("request_id", clip(&s));
            s
        } else {
            uuid::Uuid::now_v7().to_string()
        };
        let mut request = CreateReferralRequest {
            request_id,
            referral: Some(referral),
        };
        shrink(&mut request);
        if self.unnoted > 0 {
            self.notes.push(format!("{} more", self.unnoted));
        }
        request
    }
}

/// Halves every repeated field and long string until the request is under [`MAX_ENCODED`].
fn shrink(request: &mut CreateReferralRequest) {
    fn halve<T>(v: &mut Vec<T>) {
        v.truncate(v.len() / 2);
    }
    fn cut(s: &mut String) {
        if s.len() > 1000 {
            let keep: String = s.chars().take(s.chars().count() / 2).collect();
            *s = keep;
        }
    }
    fn person(p: &mut Option<Person>) {
        if let Some(p) = p {
            cut(&mut p.full_name);
        }
    }
    while request.encoded_len() > MAX_ENCODED {
        cut(&mut request.request_id);
        let Some(r) = request.referral.as_mut() else {
            return;
        };
        cut(&mut r.referring_organisation);
        cut(&mut r.referrer_reference);
        cut(&mut r.id);
        if let Some(d) = r.decision.as_mut() {
            cut(&mut d.reason);
        }
        match r.details.as_mut() {
            Some(referral::Details::DomesticAbuse(d)) => {
                halve(&mut d.dash_answers);
                halve(&mut d.police_reported_incident_dates);
                halve(&mut d.do_not_inform);
                halve(&mut d.risk_indicators);
                d.do_not_inform.iter_mut().for_each(cut);
                cut(&mut d.lawful_basis);
                if let Some(pj) = d.professional_judgement.as_mut() {
                    halve(&mut pj.reasons);
                    pj.reasons.iter_mut().for_each(cut);
                }
                person(&mut d.victim);
                person(&mut d.perpetrator);
            }
            Some(referral::Details::CommunityMarac(c)) => {
                halve(&mut c.concerns);
                halve(&mut c.vulnerability_reasons);
                halve(&mut c.do_not_inform);
                c.vulnerability_reasons.iter_mut().for_each(cut);
                c.do_not_inform.iter_mut().for_each(cut);
                cut(&mut c.lawful_basis);
                person(&mut c.subject);
            }
            Some(referral::Details::Prevent(p)) => {
                halve(&mut p.do_not_inform);
                p.do_not_inform.iter_mut().for_each(cut);
                cut(&mut p.concern_summary);
                person(&mut p.subject);
            }
            None => {}
        }
    }
}

#[derive(Default)]
struct Tally {
    tried: usize,
    refused: usize,
    decided: usize,
    stalled: usize,
    /// What went wrong, one line per referral (bounded when printed).
    failures: Vec<String>,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tried {} / refused {} / decided {} / stalled {}",
            self.tried, self.refused, self.decided, self.stalled
        )
    }
}

enum Answer {
    Accepted(String),
    Refused,
    Wrong(String),
}

async fn post(system: &TestSystem, request: CreateReferralRequest) -> Answer {
    match system.intake.clone().create_referral(request).await {
        Ok(created) => Answer::Accepted(created.into_inner().id),
        Err(e) if e.code() == Code::InvalidArgument => {
            let named = e
                .get_details_bad_request()
                .map_or(0, |b| b.field_violations.len());
            if named > 0 {
                Answer::Refused
            } else {
                Answer::Wrong(format!("INVALID_ARGUMENT naming no field: {}", e.message()))
            }
        }
        Err(e) => Answer::Wrong(format!(
            "{:?}: {}",
            e.code(),
            e.message().chars().take(200).collect::<String>()
        )),
    }
}

/// Referrals intake took that are still RECEIVED, among `ids`.
async fn still_received(system: &TestSystem, ids: &[String]) -> Vec<String> {
    let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.parse().unwrap()).collect();
    let rows: Vec<(uuid::Uuid,)> = sqlx::query_as(
        "SELECT id FROM intake.referrals WHERE id = ANY($1) AND status = 'REFERRAL_STATUS_RECEIVED'",
    )
    .bind(&ids)
    .fetch_all(&system.pool)
    .await
    .unwrap();
    rows.into_iter().map(|(id,)| id.to_string()).collect()
}

/// An ordinary referral after a batch: routed and in the City's MARAC queue within seconds.
async fn canary(system: &TestSystem, batch: usize) -> Result<Duration, String> {
    let start = Instant::now();
    let created = system
        .submit(Sample::new(format!("Canary After Batch {batch}")).yes(16))
        .await;
    let id: uuid::Uuid = created.id.parse().unwrap();
    loop {
        let (queued,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM notification.queue_cases WHERE referral_id = $1")
                .bind(id)
                .fetch_one(&system.pool)
                .await
                .unwrap();
        if queued == 1 {
            return Ok(start.elapsed());
        }
        if start.elapsed() > CANARY_DEADLINE {
            let status = still_received(system, std::slice::from_ref(&created.id)).await;
            return Err(format!(
                "canary: an ordinary referral after batch {batch} was not queued within {CANARY_DEADLINE:?} ({})",
                if status.is_empty() {
                    "decided, not queued"
                } else {
                    "still RECEIVED"
                }
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_generated_referral_is_refused_naming_a_field_or_decided() {
    let cases = env_number("REFROUTE_PROPERTY_CASES", 2000) as usize;
    let seed = env_number("REFROUTE_PROPERTY_SEED", 0x5EED_2026);
    let system = spawn_system().await;
    let started = Instant::now();
    let mut generator = Gen {
        rng: Rng(seed),
        today: Utc::now().date_naive(),
        wild: 0.0,
        serial: 0,
        notes: Vec::new(),
        unnoted: 0,
        single: None,
        decisions: 0,
    };
    let mut tally = Tally::default();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut batch = 0;
    while tally.tried < cases {
        batch += 1;
        let size = BATCH.min(cases - tally.tried);
        let requests: Vec<(CreateReferralRequest, String)> = (0..size)
            .map(|_| {
                let r = generator.request();
                (r, generator.notes.join(", "))
            })
            .collect();
        let answers: Vec<(Answer, String)> = futures_util::stream::iter(requests)
            .map(|(request, notes)| async { (post(&system, request).await, notes) })
            .buffer_unordered(16)
            .collect()
            .await;
        tally.tried += size;
        let mut accepted = BTreeMap::new();
        for (answer, notes) in answers {
            match answer {
                Answer::Accepted(id) => {
                    accepted.insert(id, notes);
                }
                Answer::Refused => tally.refused += 1,
                Answer::Wrong(why) => tally.failures.push(format!("{why} [{notes}]")),
            }
        }

        // Every referral taken is decided within the deadline.
        let ids: Vec<String> = accepted.keys().cloned().collect();
        let posted = Instant::now();
        let mut waiting = still_received(&system, &ids).await;
        while !waiting.is_empty() && posted.elapsed() < BATCH_DEADLINE {
            tokio::time::sleep(Duration::from_millis(200)).await;
            waiting = still_received(&system, &waiting).await;
        }
        tally.stalled += waiting.len();
        tally.decided += ids.len() - waiting.len();
        for id in &waiting {
            tally.failures.push(format!(
                "stalled: {id} RECEIVED after {BATCH_DEADLINE:?} [{}]",
                accepted[id]
            ));
        }
        let decided: Vec<(String,)> = sqlx::query_as(
            "SELECT status FROM intake.referrals WHERE id = ANY($1::text[]::uuid[])",
        )
        .bind(&ids)
        .fetch_all(&system.pool)
        .await
        .unwrap();
        for (status,) in decided {
            *statuses.entry(status).or_default() += 1;
        }
        let canary = canary(&system, batch).await;
        eprintln!(
            "property batch {batch}: {tally} after {:?}; ordinary referral after it: {canary:?}",
            started.elapsed()
        );
        if let Err(e) = canary {
            tally.failures.push(e);
        }
        // Once routing has stopped, further batches only wait out their deadline.
        if tally.stalled > 0 {
            break;
        }
    }

    // Nothing any consumer took was dead-lettered: what intake accepts, every service can process.
    let depths = system.queue_depths().await.unwrap();
    for (queue, (ready, unacked)) in &depths {
        if queue.ends_with(".dlq") && ready + unacked > 0 {
            tally.failures.push(format!(
                "{queue} holds {} dead-lettered message(s)",
                ready + unacked
            ));
        }
    }

    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &tally.failures {
        *kinds.entry(f.split(':').next().unwrap_or("")).or_default() += 1;
    }
    eprintln!(
        "property (seed {seed:#x}): {tally} in {:?}; accepted referrals ended {statuses:?}; failures by kind {kinds:?}",
        started.elapsed()
    );
    assert!(
        tally.failures.is_empty()
            && tally.stalled == 0
            && tally.tried == tally.refused + tally.decided,
        "{tally} (seed {seed:#x}); {} failure(s), first ones:\n{}",
        tally.failures.len(),
        tally
            .failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    system.shutdown().await;
}
