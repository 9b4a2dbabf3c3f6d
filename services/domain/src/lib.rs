//! The rules refroute routes by, kept free of I/O so that every criterion can be tested at its
//! boundary and every decision explained. Services translate wire types into these and back.

pub mod area;
pub mod dash;
pub mod marac;
pub mod rules;

pub use area::{AreaCode, AreaError};
pub use dash::{DashAnswer, DashChecklist, RiskBand};
pub use marac::{Criterion, DaCase, Decision, Outcome, PriorMaracReferral, decide};
pub use rules::{AreaRules, RuleSet, RuleSetError};
