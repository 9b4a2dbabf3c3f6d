//! The rules refroute routes by, kept free of I/O so that every criterion can be tested at its
//! boundary and every decision explained. Services translate wire types into these and back.

pub mod area;
pub mod community;
pub mod dash;
pub mod decision;
pub mod directory;
pub mod marac;
pub mod prevent;
pub mod rules;
pub mod transfer;

pub use area::{AreaCode, AreaError};
pub use dash::{DashAnswer, DashChecklist, RiskBand};
pub use decision::{Criterion, Decision, Outcome, Panel, Pathway, Residence, TransferKind, age_on};
pub use directory::{Area, Directory, DirectoryError, PoliceForce};
pub use marac::{DaCase, PriorMaracReferral};
pub use rules::{AreaRules, LocalCriterion, RepeatAnchor, RuleSet, RuleSetError};
pub use transfer::{Received, SenderAssessment};
