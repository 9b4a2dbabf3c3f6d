//! A person named in a referral: victim, perpetrator or subject.

use super::{Context, MAX_NAME};
use crate::residence::{self, GivenResidence};
use crate::text::{self, Form, PersonName};
use crate::violation::Violations;
use chrono::NaiveDate;
use refroute_proto::v1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub name: PersonName,
    pub date_of_birth: Option<NaiveDate>,
    pub residence: Option<GivenResidence>,
}

/// What a person's checks require, and why their residence matters when it is required.
pub(super) struct Rules {
    pub date_of_birth_required: bool,
    /// `Some(why)` when the residence is required.
    pub residence_required: Option<&'static str>,
}

pub(super) fn parse(
    v: &mut Violations,
    cx: &Context,
    path: &str,
    person: Option<&v1::Person>,
    rules: Rules,
) -> Option<Person> {
    let Some(p) = person else {
        v.push(path, "is required");
        return None;
    };
    let name = text::text(
        v,
        &format!("{path}.full_name"),
        &p.full_name,
        Form::Line,
        true,
        MAX_NAME,
    );
    // `None` when a date of birth was refused; `Some(None)` when none was needed or given.
    let born = if rules.date_of_birth_required || !p.date_of_birth.is_empty() {
        crate::date::birth(
            v,
            &format!("{path}.date_of_birth"),
            &p.date_of_birth,
            cx.today,
        )
        .map(Some)
    } else {
        Some(None)
    };
    let field = format!("{path}.residence");
    let given = p.residence.as_ref().filter(|r| r.kind.is_some());
    let residence = residence::parse(v, &field, given, rules.residence_required, cx.directory);
    // Absent and not required is fine; given and refused is not.
    if given.is_some() && residence.is_none() {
        return None;
    }
    Some(Person {
        name: PersonName::new(name?),
        date_of_birth: born?,
        residence,
    })
}

pub(super) fn canonicalise(w: &mut Option<v1::Person>, parsed: &Person) {
    let Some(p) = w.as_mut() else { return };
    p.full_name = parsed.name.as_str().to_string();
    if let (Some(given), Some(raw)) = (&parsed.residence, p.residence.as_ref()) {
        p.residence = Some(given.canonical_wire(raw));
    }
}
