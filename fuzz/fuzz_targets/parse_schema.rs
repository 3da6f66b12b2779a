#![no_main]
//! Feeds arbitrary text to the QAPI schema front end (parser, checks,
//! model, dump): it must return a schema or an error, never panic or hang.
//! A NUL byte splits the input into the root file and an includable
//! `sub.json`.
use libfuzzer_sys::fuzz_target;
use qapi_schema::{dump, load_with, LoadOptions, MemoryReader};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (root, sub) = text.split_once('\0').unwrap_or((&text, ""));
    let reader = MemoryReader {
        files: vec![
            ("schema.json".to_string(), root.to_string()),
            ("sub.json".to_string(), sub.to_string()),
        ],
    };
    for relaxed_docs in [false, true] {
        if let Ok(schema) = load_with("schema.json", LoadOptions { relaxed_docs }, &reader) {
            let _ = dump(&schema);
        }
    }
});
