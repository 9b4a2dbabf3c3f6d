//! UK postcodes to local authorities (ONS GSS codes), from the ONS Postcode Directory: the
//! first step in routing a referral to its area's panel (docs/DOMAIN.md 3.3). Only a full postcode
//! decides the local authority; a partial, Northern Irish, unknown or terminated postcode is
//! never guessed from but reported, so the referral goes to review.
//!
//! The crate does no I/O of its own: every postcode of Great Britain ships embedded
//! ([`PostcodeTable::shipped`]), and a deployment can import a current national ONSPD/NSPL file
//! (which records terminations) from any reader it opens ([`onspd::import`]) and merge it over
//! the shipped rows.

pub mod bench;
pub mod local_authorities;
pub mod onspd;
pub mod postcode;
pub mod shipped;
pub mod table;

pub use bench::BenchReport;

/// The shipped area directory (every local authority of Great Britain), in the form
/// `refroute_domain::Directory::from_toml` reads; see `data/README.md`.
pub const SHIPPED_AREAS: &str = include_str!("../data/areas.toml");
pub use onspd::{Import, ImportCounts, OnspdError};
pub use postcode::{Postcode, PostcodeError};
pub use shipped::{SHIPPED_SOURCE, ShippedError};
pub use table::{GssCode, Lookup, PostcodeStatus, PostcodeTable, Row, TableError};
