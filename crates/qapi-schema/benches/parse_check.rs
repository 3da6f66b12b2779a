//! Parse and check QEMU 10.0's full QMP schema (qapi/qapi-schema.json and
//! its includes, about 26,000 lines in 43 files). Target: at most 10 ms.

use criterion::{criterion_group, criterion_main, Criterion};
use qapi_schema::{load_with, LoadOptions, MemoryReader, SourceReader};

/// Serves files from memory after reading them once, so the benchmark
/// measures the front end rather than the file system.
struct Preloaded(MemoryReader);

impl SourceReader for Preloaded {
    fn read(&self, path: &str) -> Result<String, String> {
        self.0.read(path)
    }
}

fn preload(dir: &std::path::Path) -> Preloaded {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("schema folder").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            let path = dir.join(&name).to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("schema file");
            files.push((path, text));
        }
    }
    Preloaded(MemoryReader { files })
}

fn bench(c: &mut Criterion) {
    let Some(dir) = qmp_test_support::shared_path("qemu/10.0/qapi") else {
        return;
    };
    let root = dir.join("qapi-schema.json").to_string_lossy().into_owned();
    let options = LoadOptions::default();
    c.bench_function("load qemu 10.0 qapi-schema.json (files read)", |b| {
        b.iter_with_large_drop(|| qapi_schema::load(&root).expect("schema loads"))
    });
    let reader = preload(&dir);
    c.bench_function("load qemu 10.0 qapi-schema.json (in memory)", |b| {
        b.iter_with_large_drop(|| load_with(&root, options, &reader).expect("schema loads"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
