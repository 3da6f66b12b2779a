//! The full QEMU 10.0 schema to introspection data and Rust source: what a
//! build.rs pays per build (rustfmt not included).

use criterion::{criterion_group, criterion_main, Criterion};
use qapi_gen::{generate, introspect, Conditions, IntrospectOptions, RustOptions};

fn bench(c: &mut Criterion) {
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
    c.bench_function("qemu-10.0 rust source", |b| {
        b.iter(|| generate(&schema, &RustOptions::default()).len())
    });
    c.bench_function(
        "qemu-10.0 schema file to introspection plus rust source",
        |b| {
            b.iter(|| {
                let schema = qapi_schema::load(&path).map_err(|e| e.to_string())?;
                let options = IntrospectOptions::default();
                let wire = introspect(&schema, &Conditions::All, options).to_wire_bytes();
                let rust = generate(&schema, &RustOptions::default());
                Ok::<usize, String>(wire.len() + rust.len())
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
