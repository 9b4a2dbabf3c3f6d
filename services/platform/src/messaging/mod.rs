//! Reliable messaging over RabbitMQ: events leave only through the transactional outbox, arrive
//! through an idempotent inbox, and a supervisor owns the connection so that a dropped broker
//! connection costs a reconnect, never a message.

pub mod consumer;
pub mod events;
pub mod housekeeping;
pub mod inbox;
pub mod outbox;
pub mod supervisor;
pub mod topology;
pub mod trace;

pub use consumer::{ConsumerContext, HandleError, Handler, Incoming};
pub use events::Event;
pub use outbox::{Outbox, Relay};
pub use supervisor::{Supervisor, Worker, WorkerSession};
pub use trace::TraceContext;
