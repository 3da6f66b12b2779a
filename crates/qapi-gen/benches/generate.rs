//! The full QEMU 10.0 schema to introspection data (and, with the Rust
//! generator, to Rust source): what a build.rs pays per build.

use criterion::{criterion_group, criterion_main, Criterion};
use qapi_gen::{introspect, Conditions, IntrospectOptions};

fn generate(c: &mut Criterion) {
    let Some(path) = qmp_test_support::shared_path("qemu/10.0/qapi/qapi-schema.json") else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let schema = match qapi_schema::load(&path) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    c.bench_function("qemu-10.0 load+check", |b| {
        b.iter(|| qapi_schema::load(&path).map(|s| s.entities.len()))
    });
    c.bench_function("qemu-10.0 introspection", |b| {
        b.iter(|| {
            introspect(&schema, &Conditions::All, IntrospectOptions::default()).to_wire_bytes()
        })
    });
}

criterion_group!(benches, generate);
criterion_main!(benches);
