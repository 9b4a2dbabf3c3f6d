//! The `refroute.v1` package: gRPC services, event messages, and their descriptor for reflection.
#![allow(clippy::all, clippy::pedantic)]

pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/refroute.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/refroute.v1.serde.rs"));
}

mod waiting;

/// Encoded `FileDescriptorSet` of every refroute proto, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/refroute_descriptor.bin"));
