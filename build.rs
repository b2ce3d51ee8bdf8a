//! Build script: hands the target triple to the crate, for `--version`
//! (`whenready 0.1.0 (x86_64-unknown-linux-musl; …)`), so that a user can tell which
//! of the release binaries they run. Cargo sets `TARGET` only for build scripts.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=WHENREADY_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
