//! Imports a full ONS Postcode Directory (ONSPD) or National Statistics Postcode Lookup (NSPL)
//! CSV, so a deployment can replace or extend the shipped rows with the current quarterly
//! release (which also records terminations, `doterm`, that the shipped data lacks). The files
//! are large (about 2.7 million rows; about 1 GB for the ONSPD), so the reader streams row by row
//! from whatever `Read` the caller passes and finds its columns by header name, since column
//! order and the year in names like `lad23cd` change between releases. Northern Ireland (BT)
//! postcodes are skipped: the ONS licence excludes them from this use.

use crate::postcode::{Postcode, PostcodeError};
use crate::table::{GssCode, PostcodeStatus, PostcodeTable, Row, TableBuilder, TableError};
use std::fmt;
use std::io::Read;

/// Header names tried for the postcode, in order of preference.
pub const POSTCODE_COLUMNS: [&str; 5] = ["pcds", "pcd", "pcd2", "pcd7", "pcd8"];

#[derive(Debug, thiserror::Error)]
pub enum OnspdError {
    #[error("line {line}: {reason}")]
    Invalid { line: u64, reason: String },
    #[error("line {line}: {source}")]
    Csv { line: u64, source: csv::Error },
    #[error(transparent)]
    Table(#[from] TableError),
}

/// What an import read and what it kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Data rows (the header not counted).
    pub rows_read: u64,
    /// Rows kept (including terminated ones).
    pub kept: u64,
    /// Kept rows with a date of termination.
    pub terminated: u64,
    /// BT postcodes, skipped by licence.
    pub skipped_northern_ireland: u64,
    /// Rows with no local authority: empty, or a pseudo-code such as `L99999999` (Channel
    /// Islands), `M99999999` (Isle of Man) or `E99999999`.
    pub skipped_no_local_authority: u64,
    /// Postcodes not in a current format (e.g. the old Newport `NPT 0AD` codes ONSPD still
    /// lists as terminated).
    pub skipped_malformed_postcode: u64,
}

impl fmt::Display for ImportCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rows read, {} kept ({} terminated); skipped: {} Northern Ireland (BT), {} without \
             a local authority, {} malformed postcodes",
            self.rows_read,
            self.kept,
            self.terminated,
            self.skipped_northern_ireland,
            self.skipped_no_local_authority,
            self.skipped_malformed_postcode
        )
    }
}

/// The columns an import found, by header name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    pub postcode: String,
    pub local_authority: String,
    /// `None` when the file has no `doterm`: rows are then [`PostcodeStatus::NotRecorded`].
    pub terminated: Option<String>,
}

/// A table built from one file, with what was read.
#[derive(Debug)]
pub struct Import {
    pub table: PostcodeTable,
    pub counts: ImportCounts,
    pub columns: Columns,
}

/// Reads a whole ONSPD/NSPL CSV into a table.
pub fn import(reader: impl Read) -> Result<Import, OnspdError> {
    let mut builder = TableBuilder::default();
    let mut table_error = None;
    let (counts, columns) = read_rows(reader, |row| {
        if table_error.is_none() {
            table_error = builder.push(row).err();
        }
    })?;
    if let Some(e) = table_error {
        return Err(e.into());
    }
    Ok(Import {
        table: builder.finish(),
        counts,
        columns,
    })
}

/// Streams the kept rows of an ONSPD/NSPL CSV to `each`, in file order.
pub fn read_rows(
    reader: impl Read,
    mut each: impl FnMut(Row),
) -> Result<(ImportCounts, Columns), OnspdError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let csv_error = |source: csv::Error, fallback: u64| OnspdError::Csv {
        line: source.position().map_or(fallback, |p| p.line()),
        source,
    };
    let headers: Vec<String> = csv
        .byte_headers()
        .map_err(|e| csv_error(e, 1))?
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_ascii_lowercase()
        })
        .collect();
    let find = |name: &str| headers.iter().position(|h| h == name);
    let invalid = |line: u64, reason: String| OnspdError::Invalid { line, reason };

    let pc_col = POSTCODE_COLUMNS
        .iter()
        .find_map(|n| find(n))
        .ok_or_else(|| {
            invalid(
                1,
                "no postcode column (pcds, pcd, pcd2, pcd7 or pcd8)".into(),
            )
        })?;
    let la_col = find("oslaua")
        .or_else(|| find("laua"))
        .or_else(|| {
            // NSPL and newer ONSPD: `lad23cd`, `lad25cd`...; the latest year if several.
            headers
                .iter()
                .enumerate()
                .filter(|(_, h)| {
                    h.len() == 7
                        && h.starts_with("lad")
                        && h.ends_with("cd")
                        && h.as_bytes()[3..5].iter().all(u8::is_ascii_digit)
                })
                .max_by_key(|(_, h)| h.as_str())
                .map(|(i, _)| i)
        })
        .ok_or_else(|| {
            invalid(
                1,
                "no local-authority column (oslaua, laua or ladNNcd such as lad23cd)".into(),
            )
        })?;
    let term_col = find("doterm");
    let columns = Columns {
        postcode: headers[pc_col].clone(),
        local_authority: headers[la_col].clone(),
        terminated: term_col.map(|i| headers[i].clone()),
    };

    let mut counts = ImportCounts::default();
    let mut record = csv::ByteRecord::new();
    let mut line = 1;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(e, line + 1)),
        }
        line = record.position().map_or(line + 1, |p| p.line());
        counts.rows_read += 1;
        let field = |i: usize| record.get(i).unwrap_or_default();

        let postcode = match std::str::from_utf8(field(pc_col)) {
            Ok(raw) => Postcode::parse(raw),
            Err(_) => Err(PostcodeError::Malformed),
        };
        let postcode = match postcode {
            Ok(pc) => pc,
            Err(PostcodeError::NorthernIrish) => {
                counts.skipped_northern_ireland += 1;
                continue;
            }
            Err(PostcodeError::Partial | PostcodeError::Malformed) => {
                counts.skipped_malformed_postcode += 1;
                continue;
            }
        };
        let la = field(la_col).trim_ascii();
        if la.is_empty() || la.ends_with(b"99999999") {
            counts.skipped_no_local_authority += 1;
            continue;
        }
        let laua = GssCode::from_bytes(la).ok_or_else(|| {
            invalid(
                line,
                format!(
                    "{} {:?} is not a GSS code (a letter and 8 digits)",
                    columns.local_authority,
                    String::from_utf8_lossy(la)
                ),
            )
        })?;
        if laua.as_str().starts_with('N') {
            counts.skipped_northern_ireland += 1;
            continue;
        }
        let status = match term_col {
            Some(i) if !field(i).trim_ascii().is_empty() => PostcodeStatus::Terminated,
            Some(_) => PostcodeStatus::Live,
            None => PostcodeStatus::NotRecorded,
        };
        counts.kept += 1;
        if status == PostcodeStatus::Terminated {
            counts.terminated += 1;
        }
        each(Row {
            postcode,
            laua,
            status,
        });
    }
    Ok((counts, columns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Lookup;

    fn look<'a>(t: &'a PostcodeTable, pc: &str) -> Lookup<'a> {
        t.lookup(&Postcode::parse(pc).unwrap())
    }

    /// ONSPD column names and order (a subset of its ~50 columns), quoted as ONS ships it.
    /// Postcodes, `oslaua` and grid references are real (from the shipped package's ONSPD data);
    /// dates, county, ward and the W1M 0AA termination date are illustrative. W1M is a retired
    /// Westminster sub-district; the BT row must be skipped by licence.
    const ONSPD: &str = concat!(
        "\u{feff}",
        r#""pcd","pcd2","pcds","dointr","doterm","oscty","ced","oslaua","osward","oseast1m","osnrth1m","pfa"
"EC2M7PY","EC2M 7PY","EC2M 7PY","199606","","E99999999","E99999999","E09000001","E05009302","533167","0181651","E23000034"
"W1M 0AA","W1M  0AA","W1M 0AA","198001","200006","E99999999","E99999999","E09000033","E05013806","528800","0181300","E23000001"
"BT1 1AA","BT1  1AA","BT1 1AA","198001","","N99999999","N99999999","N09000003","N08000313","334316","0374675","N23000001"
"JE2 3AA","JE2  3AA","JE2 3AA","198001","","L99999999","L99999999","L99999999","L99999999","","","L99999999"
"NPT 0AD","NPT  0AD","NPT 0AD","198001","199912","W99999999","W99999999","W06000022","W05000000","331400","0188200","W15000004"
"ME7 1AA","ME7  1AA","ME7 1AA","198001","","E99999999","E99999999","E06000035","E05002090","577299","0168340","E23000032"
"YO1 0AA","YO1  0AA","YO1 0AA","198001","199801","","","","","","",""
"#
    );

    #[test]
    fn reads_onspd_with_terminations_and_skips_bt() {
        let imp = import(ONSPD.as_bytes()).unwrap();
        assert_eq!(
            imp.counts,
            ImportCounts {
                rows_read: 7,
                kept: 3,
                terminated: 1,
                skipped_northern_ireland: 1,
                skipped_no_local_authority: 2,
                skipped_malformed_postcode: 1,
            }
        );
        assert_eq!(imp.columns.postcode, "pcds");
        assert_eq!(imp.columns.local_authority, "oslaua");
        assert_eq!(imp.columns.terminated.as_deref(), Some("doterm"));
        let t = &imp.table;
        assert_eq!(look(t, "EC2M 7PY"), Lookup::Live { laua: "E09000001" });
        assert_eq!(look(t, "W1M 0AA"), Lookup::Terminated { laua: "E09000033" });
        assert_eq!(look(t, "ME7 1AA"), Lookup::Live { laua: "E06000035" });
        assert_eq!(t.len(), 3);
        assert!(imp.counts.to_string().contains("1 Northern Ireland"));
    }

    #[test]
    fn reads_nspl_headers() {
        // NSPL names the local authority by year (lad23cd) and has no oslaua. Postcodes, LA and
        // grid references real; dates, usertype and wards illustrative.
        let nspl = "pcd,pcd2,pcds,dointr,doterm,usertype,oseast1m,osnrth1m,lad23cd,ward23cd\n\
                    EC1V 2PD,EC1V 2PD,EC1V 2PD,199606,,0,532602,182655,E09000019,E05013712\n\
                    N1   2UD,N1  2UD,N1 2UD,199606,,1,531708,184241,E09000019,E05013708\n";
        let imp = import(nspl.as_bytes()).unwrap();
        assert_eq!(imp.columns.local_authority, "lad23cd");
        assert_eq!(
            look(&imp.table, "EC1V 2PD"),
            Lookup::Live { laua: "E09000019" }
        );
        assert_eq!(imp.counts.kept, 2);

        // Without doterm the status is not recorded; `laua` is also accepted.
        let bare = "pcd,laua\nE1  6AN,E09000001\n";
        let imp = import(bare.as_bytes()).unwrap();
        assert_eq!(imp.columns.terminated, None);
        assert_eq!(
            look(&imp.table, "E1 6AN"),
            Lookup::LiveOrTerminated { laua: "E09000001" }
        );
    }

    #[test]
    fn bad_headers_and_rows_name_the_line() {
        let e = import(&b"postcode,oslaua\nEC2M 7PY,E09000001\n"[..]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: no postcode column (pcds, pcd, pcd2, pcd7 or pcd8)"
        );
        let e = import(&b"pcds,district\nEC2M 7PY,E09000001\n"[..]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("line 1: no local-authority column"),
            "{e}"
        );
        let e = import(&b""[..]).unwrap_err();
        assert!(
            e.to_string().starts_with("line 1: no postcode column"),
            "{e}"
        );
        let e = import(&b"pcds,oslaua\nEC2M 7PY,E09000001\nE1 6AN,City\n"[..]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3: oslaua \"City\" is not a GSS code (a letter and 8 digits)"
        );
        let e = import(&b"pcds,oslaua\nEC2M 7PY,E09000001\nE1 6AN\n"[..]).unwrap_err();
        assert!(e.to_string().starts_with("line 3:"), "{e}");
    }

    #[test]
    fn streams_rows_to_a_callback() {
        let mut seen = Vec::new();
        let (counts, _) =
            read_rows(ONSPD.as_bytes(), |r| seen.push(r.postcode.to_string())).unwrap();
        assert_eq!(seen, ["EC2M 7PY", "W1M 0AA", "ME7 1AA"]);
        assert_eq!(counts.kept, 3);
    }
}
