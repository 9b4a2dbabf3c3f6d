//! A self-contained lookup benchmark (`refroute bench-postcodes`), so an operator can see on
//! their own hardware what resolving a postcode costs and how much memory the table takes,
//! for the shipped table or an imported national one. Deterministic (a fixed xorshift seed, no
//! `rand`), so two runs look up the same postcodes.

use crate::postcode::Postcode;
use crate::table::PostcodeTable;
use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Lookups timed together; per-lookup percentiles are per-batch averages.
const BATCH: usize = 1024;

#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    pub lookups: usize,
    /// Lookups that found their postcode (about 3 in 4 by construction).
    pub found: usize,
    pub elapsed: Duration,
    /// Median and 99th percentile over batches of 1024 lookups, in ns per lookup.
    pub p50_ns: f64,
    pub p99_ns: f64,
    /// Time to parse the same number of postcodes from text.
    pub parse_elapsed: Duration,
    pub table_rows: usize,
    pub table_heap_bytes: usize,
    /// Time to load the table, when the caller measured it (see [`run_shipped`]).
    pub load_time: Option<Duration>,
}

impl BenchReport {
    pub fn lookups_per_second(&self) -> f64 {
        self.lookups as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn with_load_time(mut self, load_time: Duration) -> Self {
        self.load_time = Some(load_time);
        self
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "postcode lookups: {} in {:.1} ms = {:.0} lookups/s ({} found; per lookup p50 {:.0} ns, p99 {:.0} ns, in batches of {BATCH})",
            self.lookups,
            self.elapsed.as_secs_f64() * 1e3,
            self.lookups_per_second(),
            self.found,
            self.p50_ns,
            self.p99_ns,
        )?;
        writeln!(
            f,
            "postcode parsing: {} in {:.1} ms = {:.0} parses/s",
            self.lookups,
            self.parse_elapsed.as_secs_f64() * 1e3,
            self.lookups as f64 / self.parse_elapsed.as_secs_f64().max(1e-9),
        )?;
        write!(
            f,
            "table: {} postcodes, {:.1} MiB in memory",
            self.table_rows,
            self.table_heap_bytes as f64 / (1024.0 * 1024.0),
        )?;
        if let Some(load) = self.load_time {
            write!(f, ", load time {:.0} ms", load.as_secs_f64() * 1e3)?;
        }
        Ok(())
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A well-formed postcode from the alphabet, almost always absent from any table.
fn random_postcode(rng: &mut XorShift) -> Postcode {
    const L: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let letter = |rng: &mut XorShift| L[rng.below(L.len())] as char;
    let digit = |rng: &mut XorShift| char::from(b'0' + rng.below(10) as u8);
    // AA9A 9AA: the widest form; "BT" is avoided (not a GB postcode).
    let mut s = String::with_capacity(8);
    s.push(letter(rng));
    let second = loop {
        let c = letter(rng);
        if !(s == "B" && c == 'T') {
            break c;
        }
    };
    s.push(second);
    s.push(digit(rng));
    s.push(letter(rng));
    s.push(digit(rng));
    s.push(letter(rng));
    s.push(letter(rng));
    Postcode::parse(&s).expect("generated postcodes are well-formed")
}

/// Looks up `lookups` postcodes: 3 in 4 drawn from the table, 1 in 4 random well-formed ones.
pub fn run(table: &PostcodeTable, lookups: usize) -> BenchReport {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let queries: Vec<Postcode> = (0..lookups)
        .map(|_| {
            if !table.is_empty() && rng.below(4) != 0 {
                table
                    .postcode_at(rng.below(table.len()))
                    .expect("below len")
            } else {
                random_postcode(&mut rng)
            }
        })
        .collect();

    let mut found = 0;
    let mut per_lookup_ns = Vec::with_capacity(lookups / BATCH + 1);
    let mut elapsed = Duration::ZERO;
    for batch in queries.chunks(BATCH) {
        let start = Instant::now();
        for pc in batch {
            if black_box(table.lookup(black_box(pc))).laua().is_some() {
                found += 1;
            }
        }
        let took = start.elapsed();
        elapsed += took;
        per_lookup_ns.push(took.as_nanos() as f64 / batch.len() as f64);
    }
    per_lookup_ns.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if per_lookup_ns.is_empty() {
            0.0
        } else {
            per_lookup_ns[((per_lookup_ns.len() - 1) as f64 * p).round() as usize]
        }
    };

    let texts: Vec<String> = queries.iter().map(Postcode::to_string).collect();
    let start = Instant::now();
    for t in &texts {
        black_box(Postcode::parse(black_box(t)).ok());
    }
    let parse_elapsed = start.elapsed();

    BenchReport {
        lookups,
        found,
        elapsed,
        p50_ns: pct(0.50),
        p99_ns: pct(0.99),
        parse_elapsed,
        table_rows: table.len(),
        table_heap_bytes: table.heap_bytes(),
        load_time: None,
    }
}

/// Loads the shipped table, timing the load, then runs [`run`] on it.
pub fn run_shipped(lookups: usize) -> Result<BenchReport, crate::ShippedError> {
    let start = Instant::now();
    let table = PostcodeTable::shipped()?;
    let load = start.elapsed();
    Ok(run(&table, lookups).with_load_time(load))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{GssCode, PostcodeStatus, Row};

    #[test]
    fn reports_lookups_and_table_size() {
        let rows = ["EC2M 7PY", "E1 6AN", "SW1A 1AA", "ME7 1AA"].map(|pc| Row {
            postcode: Postcode::parse(pc).unwrap(),
            laua: GssCode::parse("E09000001").unwrap(),
            status: PostcodeStatus::Live,
        });
        let table = PostcodeTable::from_rows(rows).unwrap();
        let report = run(&table, 5000).with_load_time(Duration::from_millis(3));
        assert_eq!(report.lookups, 5000);
        assert!(
            report.found > 3000 && report.found < 4500,
            "{}",
            report.found
        );
        assert!(report.p50_ns <= report.p99_ns);
        assert_eq!(report, {
            let again = run(&table, 5000).with_load_time(Duration::from_millis(3));
            BenchReport {
                elapsed: report.elapsed,
                p50_ns: report.p50_ns,
                p99_ns: report.p99_ns,
                parse_elapsed: report.parse_elapsed,
                ..again
            }
        });
        let text = report.to_string();
        assert!(text.starts_with("postcode lookups: 5000 in "), "{text}");
        assert!(text.contains("table: 4 postcodes"), "{text}");
        assert!(text.contains("load time 3 ms"), "{text}");
    }

    #[test]
    fn an_empty_table_finds_nothing() {
        let report = run(&PostcodeTable::new(), 100);
        assert_eq!(report.found, 0);
    }
}
