//! The postcode → local-authority table, laid out for a national file: about 2.7 million
//! postcodes map onto a few hundred authorities, so each row is its inward code and a `u16`
//! (authority index and status) under its outward code, 4 bytes a row, looked up by binary
//! search. Building sorts once; merging two tables is linear, so an imported ONSPD/NSPL file
//! can replace or extend the shipped rows without rebuilding from text.

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
    /// (docs/DOMAIN.md 3.3).
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
///
/// Laid out by outward code: Great Britain has about 3,000 outward codes and 2.6 million
/// postcodes, so each postcode costs only its inward code (13 bits, in a `u16`) and its entry
/// (a `u16`), 4 bytes, and a lookup is two binary searches: the outward code among the few
/// dozen that share its first two characters, then the inward code among its (at most 6,760)
/// postcodes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PostcodeTable {
    /// [`Postcode::outward_key`]s, sorted, unique.
    outwards: Vec<u32>,
    /// `outwards[buckets[b]..buckets[b + 1]]` are the outward codes of [`bucket`] `b` (their
    /// first two characters), so a lookup searches a few dozen outward codes, not thousands.
    buckets: Vec<u32>,
    /// Rows `starts[i]..starts[i + 1]` are those of `outwards[i]` (one more than `outwards`,
    /// or empty when the table is).
    starts: Vec<u32>,
    /// Per row, [`Postcode::inward_index`], ascending within its outward code.
    inwards: Vec<u16>,
    /// Per row: bits 0..14 index into `lauas`, bits 14..16 the [`PostcodeStatus`].
    entries: Vec<u16>,
    lauas: Vec<GssCode>,
}

impl fmt::Debug for PostcodeTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostcodeTable")
            .field("postcodes", &self.inwards.len())
            .field("outward_codes", &self.outwards.len())
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

/// Interns `laua` into `lauas`, returning its index.
fn intern(
    lauas: &mut Vec<GssCode>,
    index: &mut HashMap<GssCode, u16>,
    laua: GssCode,
) -> Result<u16, TableError> {
    if let Some(&i) = index.get(&laua) {
        return Ok(i);
    }
    if lauas.len() == MAX_AUTHORITIES {
        return Err(TableError::TooManyAuthorities);
    }
    let i = lauas.len() as u16;
    lauas.push(laua);
    index.insert(laua, i);
    Ok(i)
}

impl TableBuilder {
    pub(crate) fn push(&mut self, row: Row) -> Result<(), TableError> {
        let idx = intern(&mut self.lauas, &mut self.index, row.laua)?;
        self.rows
            .push((row.postcode.key(), idx | (row.status.bits() << INDEX_BITS)));
        Ok(())
    }

    pub(crate) fn finish(mut self) -> PostcodeTable {
        // Stable: for a repeated postcode the later row stays last, and wins below.
        if !self.rows.is_sorted_by_key(|r| r.0) {
            self.rows.sort_by_key(|r| r.0);
        }
        let mut packer = Packer::with_capacity(self.rows.len());
        let mut rows = self.rows.into_iter().peekable();
        while let Some((key, entry)) = rows.next() {
            if rows.peek().is_some_and(|next| next.0 == key) {
                continue;
            }
            let pc = Postcode::from_key(key).expect("built from postcodes");
            packer.push(pc.outward_key(), pc.inward_index(), entry);
        }
        packer.finish(self.lauas)
    }
}

/// Lays out rows given in ascending (outward, inward) order, each postcode once.
pub(crate) struct Packer {
    outwards: Vec<u32>,
    starts: Vec<u32>,
    inwards: Vec<u16>,
    entries: Vec<u16>,
}

impl Packer {
    pub(crate) fn with_capacity(rows: usize) -> Self {
        Self {
            outwards: Vec::new(),
            starts: Vec::new(),
            inwards: Vec::with_capacity(rows),
            entries: Vec::with_capacity(rows),
        }
    }

    /// The caller keeps the order; [`Packer::finish`]'s table relies on it.
    pub(crate) fn push(&mut self, outward: u32, inward: u16, entry: u16) {
        if self.outwards.last() != Some(&outward) {
            debug_assert!(self.outwards.last() < Some(&outward));
            self.outwards.push(outward);
            self.starts.push(self.inwards.len() as u32);
        }
        debug_assert!(
            self.starts.last().map(|&s| s as usize) == Some(self.inwards.len())
                || self.inwards.last() < Some(&inward)
        );
        self.inwards.push(inward);
        self.entries.push(entry);
    }

    pub(crate) fn finish(mut self, lauas: Vec<GssCode>) -> PostcodeTable {
        if !self.outwards.is_empty() {
            self.starts.push(self.inwards.len() as u32);
        }
        let mut table = PostcodeTable {
            buckets: buckets_of(&self.outwards),
            outwards: self.outwards,
            starts: self.starts,
            inwards: self.inwards,
            entries: self.entries,
            lauas,
        };
        table.shrink();
        table
    }
}

/// Outward codes by their first two characters: a letter, then a letter or digit.
const BUCKETS: usize = 26 * 36;

/// The bucket of a packed outward code (below [`BUCKETS`]); the order of buckets is the order
/// of the codes (digits sort before letters).
fn bucket(outward: u32) -> usize {
    let [first, second, ..] = outward.to_be_bytes();
    let second = match second {
        b'0'..=b'9' => second - b'0',
        _ => second - b'A' + 10,
    };
    usize::from(first - b'A') * 36 + usize::from(second)
}

/// Where each bucket's outward codes start in `outwards` (sorted), and where the last ends.
fn buckets_of(outwards: &[u32]) -> Vec<u32> {
    if outwards.is_empty() {
        return Vec::new();
    }
    let mut starts = Vec::with_capacity(BUCKETS + 1);
    let mut at = 0;
    for b in 0..=BUCKETS {
        while at < outwards.len() && bucket(outwards[at]) < b {
            at += 1;
        }
        starts.push(at as u32);
    }
    starts
}

/// Makes the entry of a status and an authority index (below [`MAX_AUTHORITIES`]).
pub(crate) fn entry(laua_index: u16, status: PostcodeStatus) -> u16 {
    debug_assert!(usize::from(laua_index) < MAX_AUTHORITIES);
    laua_index | (status.bits() << INDEX_BITS)
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
        let outward = postcode.outward_key();
        let Some(&[lo, hi]) = self.buckets.get(bucket(outward)..bucket(outward) + 2) else {
            return Lookup::Unknown;
        };
        let (lo, hi) = (lo as usize, hi as usize);
        let Ok(i) = self.outwards[lo..hi].binary_search(&outward) else {
            return Lookup::Unknown;
        };
        let o = lo + i;
        let (start, end) = (self.starts[o] as usize, self.starts[o + 1] as usize);
        match self.inwards[start..end].binary_search(&postcode.inward_index()) {
            Ok(i) => self.answer(self.entries[start + i]),
            Err(_) => Lookup::Unknown,
        }
    }

    fn answer(&self, entry: u16) -> Lookup<'_> {
        let laua = self.lauas[usize::from(entry & INDEX_MASK)].as_str();
        match PostcodeStatus::from_bits(entry >> INDEX_BITS) {
            PostcodeStatus::Live => Lookup::Live { laua },
            PostcodeStatus::Terminated => Lookup::Terminated { laua },
            PostcodeStatus::NotRecorded => Lookup::LiveOrTerminated { laua },
        }
    }

    /// Number of postcodes.
    pub fn len(&self) -> usize {
        self.inwards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inwards.is_empty()
    }

    /// Number of distinct outward codes (postcode districts).
    pub fn outward_codes(&self) -> usize {
        self.outwards.len()
    }

    /// Heap memory held by the table, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.outwards.capacity() * size_of::<u32>()
            + self.buckets.capacity() * size_of::<u32>()
            + self.starts.capacity() * size_of::<u32>()
            + self.inwards.capacity() * size_of::<u16>()
            + self.entries.capacity() * size_of::<u16>()
            + self.lauas.capacity() * size_of::<GssCode>()
    }

    /// The distinct local authorities the table maps to, in first-seen order. After a merge it
    /// may also hold one no postcode maps to any more (one whose rows were all replaced).
    pub fn local_authorities(&self) -> &[GssCode] {
        &self.lauas
    }

    /// The `i`th postcode in postcode order (`i < len()`).
    pub fn postcode_at(&self, i: usize) -> Option<Postcode> {
        let inward = *self.inwards.get(i)?;
        let o = self.starts.partition_point(|&s| s as usize <= i) - 1;
        Postcode::from_parts(self.outwards[o], inward)
    }

    /// Every row as (outward, inward, entry), in postcode order.
    fn packed(&self) -> impl Iterator<Item = (u32, u16, u16)> + '_ {
        self.outwards
            .iter()
            .enumerate()
            .flat_map(move |(o, &outward)| {
                let (start, end) = (self.starts[o] as usize, self.starts[o + 1] as usize);
                (start..end).map(move |i| (outward, self.inwards[i], self.entries[i]))
            })
    }

    /// Every row, in postcode ([`Postcode::key`]) order.
    pub fn rows(&self) -> impl Iterator<Item = Row> + '_ {
        self.packed().map(|(outward, inward, entry)| Row {
            postcode: Postcode::from_parts(outward, inward).expect("table rows are postcodes"),
            laua: self.lauas[usize::from(entry & INDEX_MASK)],
            status: PostcodeStatus::from_bits(entry >> INDEX_BITS),
        })
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
        let mut lauas = self.lauas.clone();
        let mut index: HashMap<GssCode, u16> = lauas
            .iter()
            .enumerate()
            .map(|(i, g)| (*g, i as u16))
            .collect();
        let remap = other
            .lauas
            .iter()
            .map(|g| intern(&mut lauas, &mut index, *g))
            .collect::<Result<Vec<u16>, TableError>>()?;
        let theirs = |e: u16| remap[usize::from(e & INDEX_MASK)] | (e & !INDEX_MASK);

        let mut packer = Packer::with_capacity(self.len() + other.len());
        let mut ours = self.packed().peekable();
        let mut others = other.packed().peekable();
        loop {
            let next = match (ours.peek(), others.peek()) {
                (None, None) => break,
                (Some(_), None) => ours.next(),
                (None, Some(_)) => others.next().map(|(o, i, e)| (o, i, theirs(e))),
                (Some(a), Some(b)) => match (a.0, a.1).cmp(&(b.0, b.1)) {
                    std::cmp::Ordering::Less => ours.next(),
                    std::cmp::Ordering::Greater => others.next().map(|(o, i, e)| (o, i, theirs(e))),
                    std::cmp::Ordering::Equal => {
                        ours.next();
                        others.next().map(|(o, i, e)| (o, i, theirs(e)))
                    }
                },
            };
            let (outward, inward, entry) = next.expect("one side has a row");
            packer.push(outward, inward, entry);
        }
        drop(ours);
        *self = packer.finish(lauas);
        Ok(())
    }

    fn shrink(&mut self) {
        self.outwards.shrink_to_fit();
        self.buckets.shrink_to_fit();
        self.starts.shrink_to_fit();
        self.inwards.shrink_to_fit();
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
        assert!(t.heap_bytes() >= 3 * 4);
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
        let keys: Vec<u64> = shipped.rows().map(|r| r.postcode.key()).collect();
        assert!(keys.is_sorted());
        assert_eq!(
            shipped.postcode_at(5),
            Some(Postcode::parse("ZE1 0AA").unwrap())
        );
        assert_eq!(shipped.postcode_at(6), None);

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
    fn outward_codes_bucket_in_their_own_order() {
        let codes = [
            "A1", "AB1", "AB10", "B1", "B1A", "BA1", "E1", "E1W", "EC2M", "ZE1",
        ];
        let keys: Vec<u32> = codes
            .iter()
            .map(|o| Postcode::parse(&format!("{o} 1AA")).unwrap().outward_key())
            .collect();
        assert!(keys.is_sorted());
        let buckets: Vec<usize> = keys.iter().map(|&k| bucket(k)).collect();
        assert!(buckets.is_sorted(), "{buckets:?}");
        assert!(buckets.iter().all(|&b| b < BUCKETS));
        let starts = buckets_of(&keys);
        assert_eq!(starts.len(), BUCKETS + 1);
        for (i, &k) in keys.iter().enumerate() {
            let b = bucket(k);
            assert!(
                (starts[b] as usize..starts[b + 1] as usize).contains(&i),
                "{}",
                codes[i]
            );
        }
        assert_eq!(starts[BUCKETS] as usize, keys.len());
        assert!(buckets_of(&[]).is_empty());
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
