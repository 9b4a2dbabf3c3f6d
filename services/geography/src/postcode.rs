//! A UK postcode, checked for form before anything looks it up, because only a *full* postcode
//! decides the local authority (districts and sectors straddle borough lines, docs/DOMAIN.md 3.3): a
//! partial or Northern Irish postcode is refused with a reason an integrator can act on, never
//! guessed from. Error messages never repeat the input: a postcode in a referral is personal data
//! and errors end up in logs.

use std::fmt;

/// A well-formed full postcode of Great Britain (never a Northern Irish BT postcode), held in the
/// ONS 7-character form (`pcd`/`pcd7`: the outward code left-aligned in 4 characters, then the
/// inward code, e.g. `E1  6AN`, `EC2M7PY`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Postcode {
    chars: [u8; 7],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostcodeError {
    /// An outward code ("EC2M") or a sector ("EC2M 7") rather than a full postcode.
    #[error(
        "partial postcode: only the full postcode decides the local authority; give the full \
         postcode (e.g. EC2M 7PY) or the local-authority GSS code"
    )]
    Partial,
    /// A BT postcode.
    #[error(
        "Northern Ireland (BT) postcode: ONS postcode data for Northern Ireland is not licensed \
         for this use, so refroute cannot resolve it; give the local-authority GSS code \
         (N09000001 to N09000011) instead"
    )]
    NorthernIrish,
    /// Not a UK postcode at all.
    #[error(
        "not a UK postcode: expected a full postcode such as EC2M 7PY, SW1A 1AA or ME7 1AA \
         (letters and digits only; spaces are ignored), or give the local-authority GSS code"
    )]
    Malformed,
}

/// Outward-code shapes: A9, A99, AA9, AA99, A9A, AA9A (A = letter, 9 = digit).
fn is_outward(s: &[u8]) -> bool {
    let a = |i: usize| s[i].is_ascii_uppercase();
    let d = |i: usize| s[i].is_ascii_digit();
    match s.len() {
        2 => a(0) && d(1),
        3 => a(0) && ((d(1) && d(2)) || (a(1) && d(2)) || (d(1) && a(2))),
        4 => a(0) && a(1) && d(2) && (d(3) || a(3)),
        _ => false,
    }
}

fn is_inward(s: &[u8]) -> bool {
    s.len() == 3 && s[0].is_ascii_digit() && s[1].is_ascii_uppercase() && s[2].is_ascii_uppercase()
}

impl Postcode {
    /// Parses a postcode as people and systems write it: surrounding and internal whitespace is
    /// ignored and letters may be lower case ("ec2m7py", " EC2M 7PY ", "EC2M  7PY").
    pub fn parse(raw: &str) -> Result<Postcode, PostcodeError> {
        let mut buf = [0u8; 8];
        let mut len = 0;
        for c in raw.chars() {
            if c.is_whitespace() {
                continue;
            }
            if !c.is_ascii_alphanumeric() || len == buf.len() {
                return Err(PostcodeError::Malformed);
            }
            buf[len] = c.to_ascii_uppercase() as u8;
            len += 1;
        }
        let s = &buf[..len];
        if s.len() >= 2 && &s[..2] == b"BT" && (s.len() == 2 || s[2].is_ascii_digit()) {
            return Err(PostcodeError::NorthernIrish);
        }
        if (5..=7).contains(&s.len()) {
            let (outward, inward) = s.split_at(s.len() - 3);
            if is_inward(inward) && (is_outward(outward) || (outward == b"GIR" && inward == b"0AA"))
            {
                let mut chars = [b' '; 7];
                chars[..outward.len()].copy_from_slice(outward);
                chars[4..].copy_from_slice(inward);
                return Ok(Postcode { chars });
            }
        }
        // An outward code alone, a sector (outward + digit) or a sector with one unit letter.
        let partial = is_outward(s)
            || (s.len() >= 3 && s[s.len() - 1].is_ascii_digit() && is_outward(&s[..s.len() - 1]))
            || (s.len() >= 4
                && s[s.len() - 1].is_ascii_uppercase()
                && s[s.len() - 2].is_ascii_digit()
                && is_outward(&s[..s.len() - 2]));
        if partial {
            Err(PostcodeError::Partial)
        } else {
            Err(PostcodeError::Malformed)
        }
    }

    /// The outward code, e.g. `EC2M`, `E1`.
    pub fn outward(&self) -> &str {
        let end = self.chars[..4].iter().position(|&b| b == b' ').unwrap_or(4);
        std::str::from_utf8(&self.chars[..end]).expect("ASCII")
    }

    /// The inward code, e.g. `7PY`.
    pub fn inward(&self) -> &str {
        std::str::from_utf8(&self.chars[4..]).expect("ASCII")
    }

    /// The ONS 7-character form, e.g. `E1  6AN`.
    pub fn pcd7(&self) -> &str {
        std::str::from_utf8(&self.chars).expect("ASCII")
    }

    /// Without any space, e.g. `EC2M7PY`: the form of the shipped data file.
    pub fn compact(&self) -> String {
        format!("{}{}", self.outward(), self.inward())
    }

    /// A compact key for tables: the 7 ASCII bytes of [`Postcode::pcd7`], big-endian, so keys
    /// sort as the ONS 7-character form does.
    pub fn key(&self) -> u64 {
        self.chars
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    }

    /// The postcode a [`Postcode::key`] came from; `None` for a value no postcode packs to.
    pub fn from_key(key: u64) -> Option<Postcode> {
        if key >> 56 != 0 {
            return None;
        }
        let mut chars = [0u8; 7];
        for (i, c) in chars.iter_mut().enumerate() {
            *c = (key >> (8 * (6 - i))) as u8;
        }
        let pc = Postcode::parse(std::str::from_utf8(&chars).ok()?).ok()?;
        (pc.chars == chars).then_some(pc)
    }
}

/// Inward codes (digit, letter, letter) pack below this: `digit * 676 + letter * 26 + letter`.
pub(crate) const INWARD_CODES: u16 = 10 * 26 * 26;

impl Postcode {
    /// The outward code packed for tables: its four space-padded ASCII bytes, big-endian, so
    /// packed outward codes sort as the ONS 7-character form does.
    pub(crate) fn outward_key(&self) -> u32 {
        u32::from_be_bytes([self.chars[0], self.chars[1], self.chars[2], self.chars[3]])
    }

    /// The inward code packed below [`INWARD_CODES`], in the order of the inward code's text.
    pub(crate) fn inward_index(&self) -> u16 {
        let [d, a, b] = [self.chars[4], self.chars[5], self.chars[6]].map(u16::from);
        (d - u16::from(b'0')) * 676 + (a - u16::from(b'A')) * 26 + (b - u16::from(b'A'))
    }

    /// The postcode of a packed outward code and inward index; `None` when they pack none.
    pub(crate) fn from_parts(outward: u32, inward: u16) -> Option<Postcode> {
        if inward >= INWARD_CODES {
            return None;
        }
        let mut chars = [0u8; 7];
        chars[..4].copy_from_slice(&outward.to_be_bytes());
        chars[4] = b'0' + (inward / 676) as u8;
        chars[5] = b'A' + (inward / 26 % 26) as u8;
        chars[6] = b'A' + (inward % 26) as u8;
        let pc = Postcode::parse(std::str::from_utf8(&chars).ok()?).ok()?;
        (pc.chars == chars).then_some(pc)
    }
}

impl fmt::Display for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.outward(), self.inward())
    }
}

impl fmt::Debug for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Postcode({self})")
    }
}

impl std::str::FromStr for Postcode {
    type Err = PostcodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Postcode::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        Postcode::parse(raw)
            .unwrap_or_else(|e| panic!("{raw}: {e}"))
            .to_string()
    }

    #[test]
    fn accepts_every_uk_format() {
        assert_eq!(ok("M1 1AA"), "M1 1AA"); // A9 9AA
        assert_eq!(ok("B33 8TH"), "B33 8TH"); // A99 9AA
        assert_eq!(ok("CR2 6XH"), "CR2 6XH"); // AA9 9AA
        assert_eq!(ok("DN55 1PT"), "DN55 1PT"); // AA99 9AA
        assert_eq!(ok("W1A 1HQ"), "W1A 1HQ"); // A9A 9AA
        assert_eq!(ok("EC1A 1BB"), "EC1A 1BB"); // AA9A 9AA
        assert_eq!(ok("GIR 0AA"), "GIR 0AA");
    }

    #[test]
    fn normalises_case_and_spacing() {
        assert_eq!(ok("ec2m7py"), "EC2M 7PY");
        assert_eq!(ok("  EC2M   7PY \t"), "EC2M 7PY");
        assert_eq!(ok("EC2 M7P Y"), "EC2M 7PY");
        assert_eq!(ok("sw1a1aa"), "SW1A 1AA");
        let pc = Postcode::parse("E1 6AN").unwrap();
        assert_eq!(pc.pcd7(), "E1  6AN");
        assert_eq!(pc.compact(), "E16AN");
        assert_eq!(pc.outward(), "E1");
        assert_eq!(pc.inward(), "6AN");
        assert_eq!("E16AN".parse::<Postcode>().unwrap(), pc);
    }

    #[test]
    fn keys_round_trip_and_sort_like_pcd7() {
        let all = [
            "E1 6AN", "E1W 1AA", "E14 5AB", "EC2M 7PY", "GIR 0AA", "ME7 1AA",
        ];
        let mut pcs: Vec<Postcode> = all.iter().map(|s| Postcode::parse(s).unwrap()).collect();
        for pc in &pcs {
            assert_eq!(Postcode::from_key(pc.key()), Some(*pc));
        }
        pcs.sort_by_key(Postcode::key);
        let by_key: Vec<&str> = pcs.iter().map(Postcode::pcd7).collect();
        let mut by_text = by_key.clone();
        by_text.sort();
        assert_eq!(by_key, by_text);
        for pc in &pcs {
            assert_eq!(
                Postcode::from_parts(pc.outward_key(), pc.inward_index()),
                Some(*pc)
            );
        }
        let parts: Vec<(u32, u16)> = pcs
            .iter()
            .map(|p| (p.outward_key(), p.inward_index()))
            .collect();
        assert!(parts.is_sorted(), "packed parts sort as pcd7 does");
        let e1 = Postcode::parse("E1 6AN").unwrap().outward_key();
        assert_eq!(Postcode::from_parts(e1, INWARD_CODES), None);
        assert_eq!(Postcode::from_parts(0, 0), None);
        assert_eq!(
            Postcode::from_parts(Postcode::parse("GIR 0AA").unwrap().outward_key(), 1),
            None
        );
        assert_eq!(Postcode::from_key(0), None);
        assert_eq!(Postcode::from_key(u64::MAX), None);
    }

    #[test]
    fn partial_postcodes_are_refused_with_advice() {
        for raw in [
            "EC2M", "EC2M 7", "ec2m7", "E1", "E1 6", "SW1A 1", "EC2M 7P", "E17",
        ] {
            assert_eq!(Postcode::parse(raw), Err(PostcodeError::Partial), "{raw}");
        }
        let msg = PostcodeError::Partial.to_string();
        assert!(msg.contains("full postcode"), "{msg}");
        assert!(msg.contains("GSS code"), "{msg}");
    }

    #[test]
    fn northern_irish_postcodes_are_refused() {
        for raw in ["BT1 1AA", "bt48 6dq", "BT1", "BT", "BT7 1"] {
            assert_eq!(
                Postcode::parse(raw),
                Err(PostcodeError::NorthernIrish),
                "{raw}"
            );
        }
        assert!(
            PostcodeError::NorthernIrish
                .to_string()
                .contains("GSS code")
        );
        // BT is only Northern Ireland when a district number follows.
        assert_eq!(Postcode::parse("BTX 1AA"), Err(PostcodeError::Malformed));
    }

    #[test]
    fn malformed_input_is_refused_without_echoing_it() {
        for raw in [
            "",
            "   ",
            "12345",
            "EC2M-7PY",
            "EC2M 7PYY",
            "E",
            "ECC2 7PY",
            "EC2M 77Y",
            "1EC 7PY",
            "EC2M 7PÉ",
            "NPT 0AD",
            "GIR 1AA",
            "EC2M7PYEC",
        ] {
            assert_eq!(
                Postcode::parse(raw),
                Err(PostcodeError::Malformed),
                "{raw:?}"
            );
        }
        assert!(!PostcodeError::Malformed.to_string().contains("12345"));
    }
}
