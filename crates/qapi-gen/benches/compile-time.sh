#!/usr/bin/env bash
# Compile time of the Rust bindings qapi-gen generates for QEMU 10.0's QMP
# schema (client side, every condition true), side by side in one run with
# the `qapi-qmp` crate from crates.io (qapi-rs's bindings of a QEMU 9.x
# schema), on this machine; and of a client's bindings of the block,
# machine and migration modules only (`Builder::modules`).
#
# Each crate is first built once with its dependencies; then only the
# bindings crate is cleaned and rebuilt with one job, so the CPU time
# (user + system, from /usr/bin/time) is its own: the build script (ours:
# reading the schema, generating and rustfmt; theirs: qapi-codegen) and
# the compile of the generated module.
#
#   crates/qapi-gen/benches/compile-time.sh [dev|release]
#
# Environment: QMP_SHARED (default ../shared next to the workspace),
# WORK (a scratch folder; default a new temporary one).
set -euo pipefail

profile=${1:-dev}
root=$(cd "$(dirname "$0")/../../.." && pwd)
shared=${QMP_SHARED:-$root/../shared}
schema=$(cd "$shared/qemu/10.0/qapi" && pwd)/qapi-schema.json
work=${WORK:-$(mktemp -d)}
export CARGO_TARGET_DIR=$work/target
release=()
[ "$profile" = release ] && release=(--release)

mkdir -p "$work/ours/src" "$work/theirs/src" "$work/some/src"
cat > "$work/ours/Cargo.toml" <<TOML
[package]
name = "bindings-qapi-gen"
version = "0.1.0"
edition = "2021"

[workspace]

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"
qmp-wire = { path = "$root/crates/qmp-wire" }

[build-dependencies]
qapi-gen = { path = "$root/crates/qapi-gen" }
TOML
cat > "$work/ours/build.rs" <<RS
fn main() -> Result<(), Box<dyn std::error::Error>> {
    qapi_gen::Builder::new("$schema").compile(std::env::var("OUT_DIR")?)?;
    Ok(())
}
RS
echo 'pub mod qmp { include!(concat!(env!("OUT_DIR"), "/qapi.rs")); }' > "$work/ours/src/lib.rs"
cp "$root/Cargo.lock" "$work/ours/Cargo.lock"

# The same, for a client of the block, machine and migration modules.
sed 's/name = "bindings-qapi-gen"/name = "bindings-some-modules"/' "$work/ours/Cargo.toml" > "$work/some/Cargo.toml"
cat > "$work/some/build.rs" <<RS
fn main() -> Result<(), Box<dyn std::error::Error>> {
    qapi_gen::Builder::new("$schema")
        .modules(["block", "machine", "migration"])
        .compile(std::env::var("OUT_DIR")?)?;
    Ok(())
}
RS
cp "$work/ours/src/lib.rs" "$work/some/src/lib.rs"
cp "$root/Cargo.lock" "$work/some/Cargo.lock"

cat > "$work/theirs/Cargo.toml" <<TOML
[package]
name = "bindings-qapi-qmp"
version = "0.1.0"
edition = "2021"

[workspace]

[dependencies]
qapi-qmp = "=0.15.0"
TOML
echo 'pub use qapi_qmp;' > "$work/theirs/src/lib.rs"

# Dependencies first, untimed.
(cd "$work/ours" && cargo build -q "${release[@]}")
(cd "$work/some" && cargo build -q "${release[@]}")
(cd "$work/theirs" && cargo build -q "${release[@]}")

measure() { # DIR PACKAGE
    (cd "$1" && cargo clean -q "${release[@]}" -p "$2" &&
        /usr/bin/time -f "%U %S" -o "$work/time" cargo build -q "${release[@]}" -j 1 -p "$2")
    awk '{ printf "%.1f", $1 + $2 }' "$work/time"
}

ours=$(measure "$work/ours" bindings-qapi-gen)
some=$(measure "$work/some" bindings-some-modules)
theirs=$(measure "$work/theirs" qapi-qmp)
lines=$(wc -l < "$(find "$CARGO_TARGET_DIR" -path '*bindings-qapi-gen*/out/qapi.rs' | head -1)")
echo "profile $profile, one job, CPU seconds (user + system):"
echo "  qapi-gen, QEMU 10.0 schema, client side ($lines lines): $ours"
echo "  qapi-qmp 0.15.0 (its own build script and module):      $theirs"
awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "  ratio qapi-gen / qapi-qmp: %.2f\n", a / b }'
echo "  qapi-gen, block + machine + migration modules only:     $some"
