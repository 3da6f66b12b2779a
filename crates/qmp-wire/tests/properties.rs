//! Property tests: encode/decode round trips in every encoder setting, and
//! decoding that does not depend on how the input is cut into chunks.

mod common;

use proptest::prelude::*;
use qmp_wire::{Decoded, Decoder, Encoder, LineEnding, Map, MemberOrder, Value};

/// Characters QEMU can carry in a string: any scalar value except the
/// noncharacters, which QEMU neither reads nor writes.
fn qemu_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        1 => proptest::char::range('\0', '\u{1f}'),
        1 => any::<char>(),
    ]
    .prop_filter("noncharacter", |c| {
        let code = u32::from(*c);
        !((0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE)
    })
}

fn qemu_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(qemu_char(), 0..12).prop_map(|cs| cs.into_iter().collect())
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        ((i64::MAX as u64 + 1)..=u64::MAX).prop_map(Value::UInt),
        any::<f64>()
            .prop_filter("finite", |d| d.is_finite())
            .prop_map(Value::Double),
        qemu_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((qemu_string(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map>())),
        ]
    })
}

fn encoders() -> Vec<Encoder> {
    let mut all = Vec::new();
    for pretty in [false, true] {
        for order in [MemberOrder::Insertion, MemberOrder::Qemu] {
            for line_ending in [LineEnding::CrLf, LineEnding::Lf] {
                all.push(Encoder {
                    pretty,
                    order,
                    line_ending,
                    style: qmp_wire::Style::Output,
                });
            }
        }
    }
    all
}

/// Decodes `input` delivered in pieces that end at the given cut points.
fn decode_in_pieces(input: &[u8], cuts: &[usize]) -> Vec<Decoded> {
    let mut decoder = Decoder::new();
    let mut at = 0;
    let mut sorted: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    sorted.sort_unstable();
    for cut in sorted.into_iter().chain([input.len()]) {
        decoder.feed(&input[at..cut.max(at)]);
        at = cut.max(at);
    }
    decoder.finish();
    std::iter::from_fn(|| decoder.next()).collect()
}

/// Decodes `input` the way a QEMU monitor reads: stop after each message.
fn decode_message_at_a_time(input: &[u8]) -> Vec<Decoded> {
    let mut decoder = Decoder::new();
    let mut items = Vec::new();
    let mut rest = input;
    loop {
        let used = decoder.feed_until_message(rest);
        rest = &rest[used..];
        while let Some(item) = decoder.next() {
            items.push(item);
        }
        if rest.is_empty() {
            break;
        }
    }
    decoder.finish();
    items.extend(std::iter::from_fn(|| decoder.next()));
    items
}

fn hostile_stream() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::sample::select(common::FRAGMENTS).prop_map(<[u8]>::to_vec),
            1 => proptest::collection::vec(any::<u8>(), 1..4),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    // 512 cases by default; PROPTEST_CASES raises it for a longer run.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn encode_then_decode_gives_the_value_back(v in value()) {
        for encoder in encoders() {
            let bytes = encoder.message_bytes(&v);
            prop_assert!(bytes.is_ascii(), "output is pure ASCII");
            let decoded = qmp_wire::from_slice(&bytes);
            prop_assert_eq!(decoded.as_ref(), Ok(&v), "{:?}", String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn valid_values_decode_the_same_however_chunked(
        v in value(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut stream = Encoder::QMP.message_bytes(&v);
        stream.extend(Encoder::QGA.with_pretty(true).message_bytes(&v));
        let whole = decode_in_pieces(&stream, &[]);
        prop_assert_eq!(whole.len(), 2);
        prop_assert_eq!(&decode_in_pieces(&stream, &cuts), &whole);
        prop_assert_eq!(&decode_message_at_a_time(&stream), &whole);
    }

    #[test]
    fn hostile_streams_decode_the_same_however_chunked(
        stream in hostile_stream(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = decode_in_pieces(&stream, &[]);
        prop_assert_eq!(&decode_in_pieces(&stream, &cuts), &whole);
        let bytewise: Vec<usize> = (0..stream.len()).collect();
        prop_assert_eq!(&decode_in_pieces(&stream, &bytewise), &whole);
        prop_assert_eq!(&decode_message_at_a_time(&stream), &whole);
    }
}
