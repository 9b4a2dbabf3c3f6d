//! Text as people type it, made canonical: Unicode NFC (so "Zoë" typed as one code point or as
//! "e" plus a combining diaeresis is the same text), names with their whitespace folded, and no
//! control characters anywhere (a NUL byte cannot be stored by PostgreSQL; the rest have no
//! business in a referral). Free text keeps its line breaks and tabs.

use crate::violation::Violations;
use unicode_normalization::UnicodeNormalization;

/// What a text field may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// One line: names, organisations, references, ids.
    Line,
    /// Prose: reasons, summaries, a lawful basis; line breaks and tabs allowed.
    Prose,
}

fn forbidden(c: char, form: Form) -> bool {
    c.is_control() && !(form == Form::Prose && matches!(c, '\n' | '\r' | '\t'))
}

/// Checks one text field and returns it canonical (NFC, trimmed; a line's inner whitespace
/// folded to single spaces). Empty is refused when `required`; `None` whenever it is refused.
pub fn text(
    v: &mut Violations,
    field: &str,
    raw: &str,
    form: Form,
    required: bool,
    max: usize,
) -> Option<String> {
    let len = raw.chars().count();
    if len > max {
        v.push(
            field,
            format!("must be at most {max} characters (got {len})"),
        );
        return None;
    }
    if raw.chars().any(|c| forbidden(c, form)) {
        let what = match form {
            Form::Line => "control characters (NUL, tab, line breaks and the like)",
            Form::Prose => "control characters other than line breaks and tabs (e.g. NUL)",
        };
        v.push(field, format!("must not contain {what}"));
        return None;
    }
    let canonical = canonical(raw, form);
    if required && canonical.is_empty() {
        v.push(field, "is required");
        return None;
    }
    Some(canonical)
}

/// The canonical form of text that passed [`text`].
pub fn canonical(raw: &str, form: Form) -> String {
    let nfc: String = raw.nfc().collect();
    match form {
        Form::Line => nfc.split_whitespace().collect::<Vec<_>>().join(" "),
        Form::Prose => nfc.trim().to_string(),
    }
}

/// A person's name: as written (canonical), and the form two referrals of the same person are
/// matched on, in which case, accents written either way, spacing and punctuation do not matter
/// ("Zoë  O'Brien" and "ZOË O BRIEN" match).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonName {
    written: String,
    matching: String,
}

impl PersonName {
    /// From a name that passed [`text`] (NFC already).
    pub fn new(canonical: String) -> Self {
        let matching = canonical
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(fold_case)
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            written: canonical,
            matching,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// What repeat detection hashes: NFC, case-folded, words joined by single spaces.
    pub fn matching(&self) -> &str {
        &self.matching
    }
}

/// Lower case, then NFC again (lower-casing can decompose), with the one common full case
/// fold lower-casing misses: German sharp s.
fn fold_case(word: &str) -> String {
    word.to_lowercase().replace('ß', "ss").nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, form: Form) -> Result<String, Vec<String>> {
        let mut v = Violations::new();
        let got = text(&mut v, "f", raw, form, true, 20);
        match got {
            Some(s) => Ok(s),
            None => Err(v.into_vec().into_iter().map(|v| v.description).collect()),
        }
    }

    #[test]
    fn control_characters_are_refused_line_breaks_only_in_prose() {
        assert!(check("a\u{0}b", Form::Line).is_err());
        assert!(check("a\u{0}b", Form::Prose).is_err());
        assert!(check("a\nb", Form::Line).is_err());
        assert_eq!(check("a\nb", Form::Prose), Ok("a\nb".into()));
        assert!(check("a\u{7f}b", Form::Prose).is_err());
        assert!(check("a\u{9b}b", Form::Prose).is_err());
    }

    #[test]
    fn lines_are_nfc_and_whitespace_folded() {
        assert_eq!(
            check("  Zoe\u{308}   Smith ", Form::Line),
            Ok("Zoë Smith".into())
        );
        assert_eq!(
            check(" \u{3000} ", Form::Line).unwrap_err(),
            ["is required"]
        );
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert!(check(&"é".repeat(20), Form::Line).is_ok());
        assert!(check(&"é".repeat(21), Form::Line).is_err());
    }

    #[test]
    fn one_person_however_the_name_is_typed() {
        let a = PersonName::new(canonical("Zoë  Ångström-O'Brien", Form::Line));
        let b = PersonName::new(canonical("ZOE\u{308} A\u{30a}NGSTRÖM O BRIEN", Form::Line));
        assert_eq!(a.matching(), b.matching());
        assert_eq!(a.matching(), "zoë ångström o brien");
        assert_eq!(
            PersonName::new("Straße".into()).matching(),
            PersonName::new("STRASSE".into()).matching()
        );
        assert_ne!(
            PersonName::new("Jane Doe".into()).matching(),
            PersonName::new("Jane Dee".into()).matching()
        );
    }
}
