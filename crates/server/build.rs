//! Links the release `jwtd` with the functions it runs while serving first, in the order of
//! `link/jwtd.order` (see `link/README.md`).

use std::env;
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=link/jwtd.order");
    println!("cargo::rerun-if-env-changed=JWTD_FUNCTION_ORDER");
    let wanted = env::var("JWTD_FUNCTION_ORDER").as_deref() != Ok("0");
    let release = env::var("PROFILE").as_deref() == Ok("release");
    // The option is lld's, and rust-lld is this target's default linker; every other target,
    // and a build that names its own linker, keeps the linker's own layout.
    let lld_target = env::var("TARGET").as_deref() == Ok("x86_64-unknown-linux-gnu");
    let own_linker = env::var_os("RUSTC_LINKER").is_some()
        || env::var("CARGO_ENCODED_RUSTFLAGS")
            .is_ok_and(|flags| flags.contains("linker") || flags.contains("fuse-ld"));
    let Ok(manifest_dir) = env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    let order = Path::new(&manifest_dir).join("link/jwtd.order");
    if wanted && release && lld_target && !own_linker && order.is_file() {
        println!(
            "cargo::rustc-link-arg-bin=jwtd=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Names the build does not have (another toolchain or dependency version) are
        // skipped: the functions keep their place, nothing else changes.
        println!("cargo::rustc-link-arg-bin=jwtd=-Wl,--no-warn-symbol-ordering");
    }
}
