//! Compiles proto/refroute/v1 with protox (pure Rust, so no protoc is needed on the machine)
//! and generates the prost messages, tonic services and protobuf-JSON serde impls.
use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "intake.proto",
        "coordinator.proto",
        "events.proto",
        "referral.proto",
        "triage.proto",
        "transfer.proto",
    ]
    .map(|f| root.join("refroute/v1").join(f));
    println!("cargo:rerun-if-changed={}", root.display());

    let fds = protox::compile(&files, [&root])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let descriptor_bytes = prost::Message::encode_to_vec(&fds);
    std::fs::write(out.join("refroute_descriptor.bin"), &descriptor_bytes)?;

    // Services and clients only with the `grpc` feature; the messages always.
    let grpc = env::var_os("CARGO_FEATURE_GRPC").is_some();
    tonic_prost_build::configure()
        .build_server(grpc)
        .build_client(grpc)
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(fds)?;

    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .build(&[".refroute"])?;
    Ok(())
}
