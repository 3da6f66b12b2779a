#![no_main]
//! Feeds arbitrary bytes to the QMP JSON decoder and checks that it never
//! panics, that the result does not depend on chunking, and that every
//! decoded value survives an encode/decode round trip.
use libfuzzer_sys::fuzz_target;
use qmp_wire::{Decoded, Decoder, Encoder, Limits, MemberOrder};

fn decode(data: &[u8], chunk: usize, limits: Limits) -> Vec<Decoded> {
    let mut decoder = Decoder::with_limits(limits);
    for piece in data.chunks(chunk.max(1)) {
        decoder.feed(piece);
    }
    decoder.finish();
    std::iter::from_fn(|| decoder.next()).collect()
}

fuzz_target!(|data: &[u8]| {
    let (chunk, body) = match data.split_first() {
        Some((&first, rest)) => (usize::from(first % 16) + 1, rest),
        None => (1, data),
    };
    let whole = decode(body, usize::MAX, Limits::QEMU);
    assert_eq!(decode(body, chunk, Limits::QEMU), whole);

    let mut decoder = Decoder::new();
    let mut rest = body;
    let mut one_at_a_time = Vec::new();
    while !rest.is_empty() {
        let used = decoder.feed_until_message(rest);
        rest = &rest[used..];
        one_at_a_time.extend(std::iter::from_fn(|| decoder.next()));
    }
    decoder.finish();
    one_at_a_time.extend(std::iter::from_fn(|| decoder.next()));
    assert_eq!(one_at_a_time, whole);

    for value in whole.iter().flatten() {
        for encoder in [Encoder::QMP, Encoder::QGA.with_pretty(true).with_order(MemberOrder::Qemu)] {
            let bytes = encoder.message_bytes(value);
            assert!(bytes.is_ascii());
            assert_eq!(qmp_wire::from_slice(&bytes).as_ref(), Ok(value));
        }
    }

    let tight = Limits { max_message_bytes: 48, max_tokens: 12, max_nesting: 4 };
    let _ = decode(body, chunk, tight);
});
