//! The one place wire types meet domain types. A referral off the wire is checked field by
//! field, made canonical and typed here ([`referral::parse`]); intake accepts exactly what this
//! accepts and triage decides on what it returns, so nothing a referrer can send is stored that
//! a consumer cannot process. Decisions go back to the wire here too ([`decision::to_wire`]).
//!
//! Pure: no I/O. What a referral is checked against (the area directory, the day it was made)
//! comes in as [`referral::Context`].
//!
//! Follow one referral: [`request::create`] → [`referral::parse`] (person, dates, codes,
//! residence, text) → [`residence::resolve`] → [`case::prepare`] → the domain's `decide`.

pub mod case;
pub mod code;
pub mod date;
pub mod decision;
pub mod referral;
pub mod request;
pub mod residence;
pub mod text;
pub mod violation;

pub use case::PathwayCase;
pub use referral::{Context, Referral};
pub use residence::GivenResidence;
pub use text::PersonName;
pub use violation::{Violation, Violations};
