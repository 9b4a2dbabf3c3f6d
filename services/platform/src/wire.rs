//! Conversions between wire types and the rest of the code.

use chrono::{DateTime, Utc};
use pbjson_types::Timestamp;

pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}
