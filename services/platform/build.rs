//! `sqlx::migrate!` embeds migrations/ at compile time; without this a new migration file is
//! not picked up until something else makes the crate recompile.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
