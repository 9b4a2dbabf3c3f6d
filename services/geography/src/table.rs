//! The postcode → local-authority table, laid out for a national file: about 2.7 million
//! postcodes map onto a few hundred authorities, so each row is a sorted `u64` key plus a `u16`
//! (authority index and status), 10 bytes a row, looked up by binary search. Building sorts
//! once; merging two sorted tables is linear, so an imported ONSPD/NSPL file can replace or
//! extend the shipped rows without rebuilding from text.

use crate::postcode::Postcode;
use std::collections::HashMap;
use std::fmt;

/// A well-formed ONS GSS code: an upper-case letter and 8 digits (e.g. `E09000001`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GssCode([u8; 9]);

impl GssCode {
    /// Checks the form only (a letter and 8 digits), upper-casing the letter.
    pub fn parse(raw: &str) -> Option<GssCode> {
        Self::from_bytes(raw.trim().as_bytes())
    }

    pub(crate) fn from_bytes(b: &[u8]) -> Option<GssCode> {
        if b.len() != 9 || !b[0].is_ascii_alphabetic() || !b[1..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut code = [0u8; 9];
        code.copy_from_slice(b);
        code[0] = code[0].to_ascii_uppercase();
        Some(GssCode(code))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }
}

impl fmt::Display for GssCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for GssCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GssCode({})", self.as_str())
    }
}

/// What a source says about whether a postcode is still in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PostcodeStatus {
    Live,
    /// The source gives a date of termination (ONSPD/NSPL `doterm`).
    Terminated,
    /// The source lists the postcode but does not record termination. The shipped data is
    /// such a source: it derives from the ONSPD, which lists terminated postcodes too, without
    /// the `doterm` column.
    NotRecorded,
}

impl PostcodeStatus {
    /// The code a database stores the status as: 0 live, 1 terminated, 2 not recorded.
    pub fn code(self) -> i16 {
        self.bits() as i16
    }

    /// The status a stored code stands for (unknown codes count as not recorded).
    pub fn from_code(code: i16) -> Self {
        Self::from_bits(code.clamp(0, 2) as u16)
    }

    fn bits(self) -> u16 {
        match self {
            PostcodeStatus::Live => 0,
            PostcodeStatus::Terminated => 1,
            PostcodeStatus::NotRecorded => 2,
        }
    }

    fn from_bits(bits: u16) -> Self {
        match bits {
            0 => PostcodeStatus::Live,
            1 => PostcodeStatus::Terminated,
            _ => PostcodeStatus::NotRecorded,
        }
    }
}

/// One postcode's row, as a source gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub postcode: Postcode,
    /// The local authority (ONS `oslaua` / `laua` / `ladNNcd`).
    pub laua: GssCode,
    pub status: PostcodeStatus,
}

/// The answer for one postcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// A live postcode in this local authority.
    Live { laua: &'a str },
    /// A terminated postcode; ONS still places it in this local authority, but it needs review
    /// (DOMAIN.md 3.3).
    Terminated { laua: &'a str },
    /// Listed by a source that does not record termination (the shipped data): the local
    /// authority is ONS's, but the postcode may be terminated. About a third of ONSPD rows are
    /// terminated postcodes, so a caller that must not route on a terminated postcode should
    /// import a current ONSPD/NSPL (which records `doterm`) over the shipped table.
    LiveOrTerminated { laua: &'a str },
    /// Not in the table: outside its coverage, or not a postcode at all. Needs review.
    Unknown,
}

impl<'a> Lookup<'a> {
    /// The local authority, whatever the status.
    pub fn laua(&self) -> Option<&'a str> {
        match *self {
            Lookup::Live { laua }
            | Lookup::Terminated { laua }
            | Lookup::LiveOrTerminated { laua } => Some(laua),
            Lookup::Unknown => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error(
        "more than {MAX_AUTHORITIES} distinct local authorities; a postcode table holds at most that many"
    )]
    TooManyAuthorities,
}

const INDEX_BITS: u32 = 14;
const INDEX_MASK: u16 = (1 << INDEX_BITS) - 1;
/// Index space of the `u16` entry after the 2 status bits (ONS has about 400 authorities).
pub const MAX_AUTHORITIES: usize = 1 << INDEX_BITS;

/// Postcodes to local authorities. Later rows win over earlier ones for the same postcode.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PostcodeTable {
    /// [`Postcode::key`]s, sorted, unique.
    keys: Vec<u64>,
    /// Per key: bits 0..14 index into `lauas`, bits 14..16 the [`PostcodeStatus`].
    entries: Vec<u16>,
    lauas: Vec<GssCode>,
}

impl fmt::Debug for PostcodeTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostcodeTable")
            .field("postcodes", &self.keys.len())
            .field("local_authorities", &self.lauas.len())
            .finish()
    }
}

/// Collects rows in source order, interning authorities as they come; `finish` sorts once.
#[derive(Default)]
pub(crate) struct TableBuilder {
    rows: Vec<(u64, u16)>,
    lauas: Vec<GssCode>,
    index: HashMap<GssCode, u16>,
}

impl TableBuilder {
    pub(crate) fn push(&mut self, row: Row) -> Result<(), TableError> {
        let idx = match self.index.get(&row.laua) {
            Some(&i) => i,
            None => {
                if self.lauas.len() == MAX_AUTHORITIES {
                    return Err(TableError::TooManyAuthorities);
                }
                let i = self.lauas.len() as u16;
                self.lauas.push(row.laua);
                self.index.insert(row.laua, i);
                i
            }
        };
        self.rows
            .push((row.postcode.key(), idx | (row.status.bits() << INDEX_BITS)));
        Ok(())
    }

    pub(crate) fn finish(mut self) -> PostcodeTable {
        // Stable: for a repeated postcode the later row stays last, and wins below.
        if !self.rows.is_sorted_by_key(|r| r.0) {
            self.rows.sort_by_key(|r| r.0);
        }
        let mut keys = Vec::with_capacity(self.rows.len());
        let mut entries = Vec::with_capacity(self.rows.len());
        for (key, entry) in self.rows {
            if keys.last() == Some(&key) {
                *entries.last_mut().expect("same length") = entry;
            } else {
                keys.push(key);
                entries.push(entry);
            }
        }
        let mut table = PostcodeTable {
            keys,
            entries,
            lauas: self.lauas,
        };
        table.shrink();
        table
    }
}

impl PostcodeTable {
    /// An empty table: every lookup is [`Lookup::Unknown`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds from rows in any order; for a postcode given more than once the last row wins.
    pub fn from_rows(rows: impl IntoIterator<Item = Row>) -> Result<Self, TableError> {
        let mut b = TableBuilder::default();
        for row in rows {
            b.push(row)?;
        }
        Ok(b.finish())
    }

    pub fn lookup(&self, postcode: &Postcode) -> Lookup<'_> {
        match self.keys.binary_search(&postcode.key()) {
            Ok(i) => {
                let entry = self.entries[i];
                let laua = self.lauas[usize::from(entry & INDEX_MASK)].as_str();
                match PostcodeStatus::from_bits(entry >> INDEX_BITS) {
                    PostcodeStatus::Live => Lookup::Live { laua },
                    PostcodeStatus::Terminated => Lookup::Terminated { laua },
                    PostcodeStatus::NotRecorded => Lookup::LiveOrTerminated { laua },
                }
            }
            Err(_) => Lookup::Unknown,
        }
    }

    /// Number of postcodes.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Heap memory held by the table, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * size_of::<u64>()
            + self.entries.capacity() * size_of::<u16>()
            + self.lauas.capacity() * size_of::<GssCode>()
    }

    /// The distinct local authorities the table maps to, in first-seen order. After a merge it
    /// may also hold one no postcode maps to any more (one whose rows were all replaced).
    pub fn local_authorities(&self) -> &[GssCode] {
        &self.lauas
    }

    /// Every row, in postcode ([`Postcode::key`]) order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = Row> + '_ {
        self.keys
            .iter()
            .zip(&self.entries)
            .map(|(&key, &entry)| Row {
                postcode: Postcode::from_key(key).expect("table keys are postcodes"),
                laua: self.lauas[usize::from(entry & INDEX_MASK)],
                status: PostcodeStatus::from_bits(entry >> INDEX_BITS),
            })
    }

    pub(crate) fn keys(&self) -> &[u64] {
        &self.keys
    }

    /// Adds rows, which win over the table's own for the same postcode (later source wins).
    pub fn extend(&mut self, rows: impl IntoIterator<Item = Row>) -> Result<(), TableError> {
        let other = Self::from_rows(rows)?;
        self.merge(other)
    }

    /// Merges `other` in; where both list a postcode, `other` wins. Linear in both sizes.
    pub fn merge(&mut self, other: PostcodeTable) -> Result<(), TableError> {
        if other.is_empty() {
            return Ok(());
        }
        let mut lauas = std::mem::take(&mut self.lauas);
        let mut index: HashMap<GssCode, u16> = lauas
            .iter()
            .enumerate()
            .map(|(i, g)| (*g, i as u16))
            .collect();
        let mut remap = Vec::with_capacity(other.lauas.len());
        for g in &other.lauas {
            let i = match index.get(g) {
                Some(&i) => i,
                None => {
                    if lauas.len() == MAX_AUTHORITIES {
                        self.lauas = lauas;
                        return Err(TableError::TooManyAuthorities);
                    }
                    let i = lauas.len() as u16;
                    lauas.push(*g);
                    index.insert(*g, i);
                    i
                }
            };
            remap.push(i);
        }
        let theirs = |e: u16| remap[usize::from(e & INDEX_MASK)] | (e & !INDEX_MASK);

        let (a_keys, a_entries) = (
            std::mem::take(&mut self.keys),
            std::mem::take(&mut self.entries),
        );
        let (b_keys, b_entries) = (other.keys, other.entries);
        let mut keys = Vec::with_capacity(a_keys.len() + b_keys.len());
        let mut entries = Vec::with_capacity(keys.capacity());
        let (mut i, mut j) = (0, 0);
        while i < a_keys.len() && j < b_keys.len() {
            match a_keys[i].cmp(&b_keys[j]) {
                std::cmp::Ordering::Less => {
                    keys.push(a_keys[i]);
                    entries.push(a_entries[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    keys.push(b_keys[j]);
                    entries.push(theirs(b_entries[j]));
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    keys.push(b_keys[j]);
                    entries.push(theirs(b_entries[j]));
                    i += 1;
                    j += 1;
                }
            }
        }
        keys.extend_from_slice(&a_keys[i..]);
        entries.extend_from_slice(&a_entries[i..]);
        keys.extend_from_slice(&b_keys[j..]);
        entries.extend(b_entries[j..].iter().map(|&e| theirs(e)));
        *self = PostcodeTable {
            keys,
            entries,
            lauas,
        };
        self.shrink();
        Ok(())
    }

    fn shrink(&mut self) {
        self.keys.shrink_to_fit();
        self.entries.shrink_to_fit();
        self.lauas.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pc: &str, laua: &str, status: PostcodeStatus) -> Row {
        Row {
            postcode: Postcode::parse(pc).unwrap(),
            laua: GssCode::parse(laua).unwrap(),
            status,
        }
    }

    fn look<'a>(t: &'a PostcodeTable, pc: &str) -> Lookup<'a> {
        t.lookup(&Postcode::parse(pc).unwrap())
    }

    #[test]
    fn gss_codes_are_checked_for_form() {
        assert_eq!(GssCode::parse("e09000001").unwrap().as_str(), "E09000001");
        for bad in ["", "E0900000", "E090000011", "109000001", "E0900000X"] {
            assert!(GssCode::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn looks_up_each_status_and_unknown() {
        use PostcodeStatus::*;
        let t = PostcodeTable::from_rows([
            row("N1 2UD", "E09000019", Live),
            row("EC2M 7PY", "E09000001", NotRecorded),
            row("W1M 0AA", "E09000033", Terminated),
        ])
        .unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(look(&t, "N1 2UD"), Lookup::Live { laua: "E09000019" });
        assert_eq!(
            look(&t, "EC2M7PY"),
            Lookup::LiveOrTerminated { laua: "E09000001" }
        );
        assert_eq!(
            look(&t, "W1M 0AA"),
            Lookup::Terminated { laua: "E09000033" }
        );
        assert_eq!(look(&t, "M1 1AA"), Lookup::Unknown);
        assert_eq!(look(&t, "W1M 0AA").laua(), Some("E09000033"));
        assert_eq!(Lookup::Unknown.laua(), None);
        let rows: Vec<Row> = t.rows().collect();
        assert_eq!(rows[0], row("EC2M 7PY", "E09000001", NotRecorded));
        assert!(t.heap_bytes() >= 3 * 10);
        assert!(PostcodeTable::new().is_empty());
    }

    #[test]
    fn later_rows_win_within_a_build() {
        use PostcodeStatus::*;
        let t = PostcodeTable::from_rows([
            row("E1 6AN", "E09000030", Live),
            row("A1 1AA", "E09000002", Live),
            row("E1 6AN", "E09000001", Terminated),
        ])
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(look(&t, "E1 6AN"), Lookup::Terminated { laua: "E09000001" });
    }

    #[test]
    fn merge_and_extend_let_the_later_source_win() {
        use PostcodeStatus::*;
        let mut shipped = PostcodeTable::from_rows([
            row("E1 6AN", "E09000001", NotRecorded),
            row("EC2M 7PY", "E09000001", NotRecorded),
            row("ME7 1AA", "E06000035", NotRecorded),
        ])
        .unwrap();
        let national = PostcodeTable::from_rows([
            row("EC2M 7PY", "E09000001", Live),
            row("M1 1AA", "E08000003", Live),
            row("ZE1 0AA", "S12000027", Terminated),
            row("AB1 0AA", "S12000033", Terminated),
        ])
        .unwrap();
        shipped.merge(national).unwrap();
        assert_eq!(shipped.len(), 6);
        assert_eq!(
            look(&shipped, "EC2M 7PY"),
            Lookup::Live { laua: "E09000001" }
        );
        assert_eq!(
            look(&shipped, "E1 6AN"),
            Lookup::LiveOrTerminated { laua: "E09000001" }
        );
        assert_eq!(look(&shipped, "M1 1AA"), Lookup::Live { laua: "E08000003" });
        assert_eq!(
            look(&shipped, "AB1 0AA"),
            Lookup::Terminated { laua: "S12000033" }
        );
        assert_eq!(shipped.local_authorities().len(), 5);
        assert!(shipped.keys().is_sorted());

        shipped
            .extend([row("ME7 1AA", "E06000035", Terminated)])
            .unwrap();
        assert_eq!(
            look(&shipped, "ME7 1AA"),
            Lookup::Terminated { laua: "E06000035" }
        );
        assert_eq!(shipped.len(), 6);
    }

    #[test]
    fn too_many_authorities_is_an_error() {
        let pc = Postcode::parse("E1 6AN").unwrap();
        let rows = (0..=MAX_AUTHORITIES).map(|i| Row {
            postcode: pc,
            laua: GssCode::parse(&format!("E{i:08}")).unwrap(),
            status: PostcodeStatus::Live,
        });
        assert_eq!(
            PostcodeTable::from_rows(rows),
            Err(TableError::TooManyAuthorities)
        );
    }
}
