//! Who is calling and what they may do, decided in one place.
//!
//! A client certificate (checked against the deployment's CA by [`crate::tls`]) maps to one
//! organisation in the organisations file ([`organisations`]). The [`layer`] admits a call only
//! if [`policy`] lets that organisation's roles call the method, and puts the [`Caller`] in the
//! request. What a method touches (whose referral, which queue) is known only once the request
//! is read, so handlers ask the `Caller` ([`caller`]); every refusal, wherever it is decided, is
//! made, logged and counted by [`refusal`].

pub mod caller;
pub mod layer;
pub mod organisations;
pub mod policy;
pub mod refusal;

pub use caller::Caller;
pub use layer::AccessLayer;
pub use organisations::{Organisation, Organisations, Role};
pub use refusal::{Reason, count_refusal};

use crate::settings::AccessSettings;

/// The organisations file a server admits callers by; a server without one refuses to start.
pub fn organisations(settings: &AccessSettings) -> anyhow::Result<Organisations> {
    let path = settings.organisations_file.trim();
    if path.is_empty() {
        anyhow::bail!(
            "access.organisations_file is not set: every gRPC server admits only the \
             organisations it lists (set REFROUTE__ACCESS__ORGANISATIONS_FILE; deploy/run.sh \
             writes a development one in .refroute/dev-pki/organisations.toml)"
        );
    }
    let organisations = Organisations::load(std::path::Path::new(path))?;
    if organisations.is_empty() {
        tracing::warn!(
            file = path,
            "the organisations file lists no one: every call will be refused"
        );
    }
    Ok(organisations)
}
