//! Loads a schema once from memory, for instruction counting:
//! `valgrind --tool=callgrind --toggle-collect='qapi_schema::load_with*'
//! target/release/examples/load_once DIR/qapi-schema.json` counts one
//! parse-and-check without file I/O or the final drop.

use qapi_schema::{load_with, LoadOptions, MemoryReader};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args()
        .nth(1)
        .ok_or("usage: load_once PATH/qapi-schema.json")?;
    let dir = std::path::Path::new(&root)
        .parent()
        .ok_or("the schema path has no folder")?;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path)?;
            files.push((path.to_string_lossy().into_owned(), text));
        }
    }
    let reader = MemoryReader { files };
    let schema = load_with(&root, LoadOptions::default(), &reader)?;
    println!("{} definitions", schema.definitions().count());
    std::mem::forget(schema);
    Ok(())
}
