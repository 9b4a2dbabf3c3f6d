//! The operator's command line, as a library so the end-to-end tests drive the same code.

pub mod bench;
pub mod dead_letters;
pub mod demo;
pub mod migrate;
pub mod render;
pub mod sample;
