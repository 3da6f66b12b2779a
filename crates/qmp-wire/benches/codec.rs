//! Decode and encode throughput of qmp-wire side by side with serde_json, in
//! one run, on (a) the real 207 KB `query-qmp-schema` reply of QEMU 7.2 and
//! (b) a stream of 10,000 small requests. Ends with a table of ratios
//! (ours / serde_json throughput; above 1 means faster).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput};
use qmp_wire::{Decoder, Encoder, Value};

struct Input {
    name: &'static str,
    bytes: Vec<u8>,
}

fn inputs() -> Vec<Input> {
    let mut inputs = Vec::new();
    match qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json") {
        Some(path) => inputs.push(Input {
            name: "query-qmp-schema",
            bytes: std::fs::read(path).expect("schema reply readable"),
        }),
        None => eprintln!("the query-qmp-schema input is skipped"),
    }
    let mut stream = Vec::new();
    for i in 0..10_000 {
        let request = match i % 4 {
            0 => format!("{{\"execute\": \"query-status\", \"id\": {i}}}\r\n"),
            1 => format!(
                "{{\"execute\": \"qom-get\", \"arguments\": {{\"path\": \"/machine/unattached/device[{i}]\", \"property\": \"type\"}}, \"id\": \"req-{i}\"}}\r\n"
            ),
            2 => format!(
                "{{\"execute\": \"migrate-set-parameters\", \"arguments\": {{\"max-bandwidth\": {}, \"downtime-limit\": 300, \"tls-creds\": \"\"}}, \"id\": {i}}}\r\n",
                i * 1_000_003
            ),
            _ => format!(
                "{{\"execute\": \"device_add\", \"arguments\": {{\"driver\": \"virtio-net-pci\", \"id\": \"net{i}\", \"bus\": \"pci.0\", \"addr\": \"0x{:x}\", \"multifunction\": false}}, \"id\": [{i}, \"x\"]}}\r\n",
                i % 32
            ),
        };
        stream.extend_from_slice(request.as_bytes());
    }
    inputs.push(Input {
        name: "10k-requests",
        bytes: stream,
    });
    inputs
}

/// Decodes as a reader would: 64 KiB at a time (a socket read), taking the
/// messages out after each read.
fn decode_ours(bytes: &[u8]) -> usize {
    let mut decoder = Decoder::new();
    let mut count = 0;
    for chunk in bytes.chunks(64 * 1024) {
        decoder.feed(chunk);
        while let Some(item) = decoder.next() {
            black_box(item.expect("valid input"));
            count += 1;
        }
    }
    count
}

fn decode_serde(bytes: &[u8]) -> usize {
    let mut count = 0;
    for item in serde_json::Deserializer::from_slice(bytes).into_iter::<serde_json::Value>() {
        black_box(item.expect("valid input"));
        count += 1;
    }
    count
}

fn bench(c: &mut Criterion, inputs: &[Input]) {
    for input in inputs {
        assert_eq!(decode_ours(&input.bytes), decode_serde(&input.bytes));
        let ours: Vec<Value> = {
            let mut decoder = Decoder::new();
            decoder.feed(&input.bytes);
            std::iter::from_fn(|| decoder.next())
                .map(|i| i.expect("valid"))
                .collect()
        };
        let theirs: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&input.bytes)
            .into_iter()
            .map(|v| v.expect("valid"))
            .collect();

        let mut group = c.benchmark_group(format!("decode/{}", input.name));
        group.throughput(Throughput::Bytes(input.bytes.len() as u64));
        group.bench_function(BenchmarkId::from_parameter("qmp-wire"), |b| {
            b.iter(|| decode_ours(black_box(&input.bytes)))
        });
        group.bench_function(BenchmarkId::from_parameter("serde_json"), |b| {
            b.iter(|| decode_serde(black_box(&input.bytes)))
        });
        group.finish();

        let mut out = Vec::with_capacity(input.bytes.len() * 2);
        let mut group = c.benchmark_group(format!("encode/{}", input.name));
        group.throughput(Throughput::Bytes(input.bytes.len() as u64));
        group.bench_function(BenchmarkId::from_parameter("qmp-wire"), |b| {
            b.iter(|| {
                out.clear();
                for value in &ours {
                    Encoder::QMP.write_message(black_box(value), &mut out);
                }
                out.len()
            })
        });
        group.bench_function(BenchmarkId::from_parameter("serde_json"), |b| {
            b.iter(|| {
                out.clear();
                for value in &theirs {
                    serde_json::to_writer(&mut out, black_box(value)).expect("encode");
                    out.extend_from_slice(b"\r\n");
                }
                out.len()
            })
        });
        group.finish();
    }
}

/// Mean time of one criterion benchmark, from its saved estimates.
fn mean_ns(group: &str, id: &str) -> Option<f64> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| qmp_test_support::workspace_root().join("target"));
    let path = target
        .join("criterion")
        .join(group.replace('/', "_"))
        .join(id)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn main() {
    let inputs = inputs();
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &inputs);
    criterion.final_summary();

    println!("\nthroughput ratio, qmp-wire / serde_json (same run; >1 is faster):");
    for input in &inputs {
        for kind in ["decode", "encode"] {
            let group = format!("{kind}/{}", input.name);
            if let (Some(ours), Some(theirs)) =
                (mean_ns(&group, "qmp-wire"), mean_ns(&group, "serde_json"))
            {
                let mb_s = |ns: f64| input.bytes.len() as f64 / ns * 1e3;
                println!(
                    "  {group:<28} {:>7.1} MB/s vs {:>7.1} MB/s  ratio {:.2}x",
                    mb_s(ours),
                    mb_s(theirs),
                    theirs / ours
                );
            }
        }
    }
}
