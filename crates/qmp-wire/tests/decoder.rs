//! Decoder behaviour beyond the recorded transcripts: QEMU's limits and
//! the reset-and-continue after them, lookahead, end of input, documents,
//! and a replay of the fuzzer's seed corpus.

use qmp_wire::{
    decode::{MAX_NESTING, MAX_TOKEN_COUNT, MAX_TOKEN_SIZE},
    Decoded, Decoder, JsonError, Limits, ParseError, Value,
};

fn decode_all(decoder: &mut Decoder, input: &[u8]) -> Vec<Decoded> {
    decoder.feed(input);
    std::iter::from_fn(|| decoder.next()).collect()
}

fn decode(input: &[u8]) -> Vec<Decoded> {
    decode_all(&mut Decoder::new(), input)
}

fn expecting_value() -> Decoded {
    Err(JsonError::Parse(ParseError::ExpectingValue))
}

#[test]
fn limits_are_qemus() {
    assert_eq!(MAX_TOKEN_SIZE, 64 * 1024 * 1024);
    assert_eq!(MAX_TOKEN_COUNT, 2_097_152);
    assert_eq!(MAX_NESTING, 1024);
    assert_eq!(Limits::default(), Limits::QEMU);
}

#[test]
fn nesting_1024_is_fine_1025_resets_and_each_closer_is_a_message() {
    let ok = [b"[".repeat(1024), b"]".repeat(1024)].concat();
    let items = decode(&ok);
    assert_eq!(items.len(), 1);
    assert!(items[0].is_ok());

    let deep = [b"[".repeat(1025), b"]".repeat(1025)].concat();
    let items = decode(&deep);
    assert_eq!(items.len(), 1026);
    assert_eq!(items[0], Err(JsonError::Nesting));
    assert!(items[1..].iter().all(|i| *i == expecting_value()));
}

#[test]
fn token_count_limit_resets_and_continues() {
    let limits = Limits {
        max_tokens: 10,
        ..Limits::QEMU
    };
    let mut decoder = Decoder::with_limits(limits);
    // Exactly 10 tokens: [ 1 , 2 , 3 , 4 , 5 ]  -> 11 tokens is one too many.
    assert!(decode_all(&mut decoder, b"[1,2,3,4,5,6]")[0] == Err(JsonError::TokenCount));
    let items = decode_all(&mut decoder, b"[1,2,3,4] {}");
    assert_eq!(
        items[0],
        Ok(Value::Array((1..=4).map(Value::Int).collect()))
    );
    assert_eq!(items.len(), 2);
}

#[test]
fn message_size_limit_counts_all_tokens() {
    let limits = Limits {
        max_message_bytes: 16,
        ..Limits::QEMU
    };
    let mut decoder = Decoder::with_limits(limits);
    // "abcdef" is 8 bytes with quotes: [ + 8 + , + ... crosses 16 on the second string.
    let items = decode_all(&mut decoder, br#"["abcdef","ghijkl"] [1]"#);
    assert_eq!(items[0], Err(JsonError::TokenSize));
    // The rest of the message is lexed afresh: ] is a message of its own.
    assert_eq!(items[1], expecting_value());
    assert_eq!(items[2], Ok(Value::Array(vec![Value::Int(1)])));
}

#[test]
fn a_single_token_is_cut_at_the_size_limit() {
    let limits = Limits {
        max_message_bytes: 8,
        ..Limits::QEMU
    };
    for chunk in [1, 3, usize::MAX] {
        let mut decoder = Decoder::with_limits(limits);
        let input = br#""abcdefghij"{}"#;
        for piece in input.chunks(chunk.min(input.len())) {
            decoder.feed(piece);
        }
        let items: Vec<_> = std::iter::from_fn(|| decoder.next()).collect();
        // The string is cut after 9 bytes; "ij" then lexes as a keyword, the
        // quote starts a string that swallows "{}".
        assert_eq!(items[0], Err(JsonError::TokenSize), "chunk {chunk}");
        assert_eq!(
            items[1],
            Err(JsonError::Parse(ParseError::InvalidKeyword("ij".into()))),
            "chunk {chunk}"
        );
        assert_eq!(items.len(), 2, "chunk {chunk}");
    }
}

#[test]
fn numbers_and_keywords_wait_for_one_more_byte() {
    let mut decoder = Decoder::new();
    assert!(decode_all(&mut decoder, b"42").is_empty());
    assert!(decoder.is_mid_message());
    assert_eq!(decode_all(&mut decoder, b" "), vec![Ok(Value::Int(42))]);
    assert!(decode_all(&mut decoder, b"null").is_empty());
    assert_eq!(decode_all(&mut decoder, b"\""), vec![Ok(Value::Null)]);
    // Strings and structural tokens end at once (the quote above opened one).
    assert_eq!(decode_all(&mut decoder, b"x\""), vec![Ok(Value::from("x"))]);
}

#[test]
fn one_byte_can_end_two_messages() {
    // The } ends the number (a message) and is then a stray closer itself.
    assert_eq!(decode(b"1}"), vec![Ok(Value::Int(1)), expecting_value()]);
}

#[test]
fn feed_until_message_stops_after_the_completing_byte() {
    let mut decoder = Decoder::new();
    let input = b"{\"a\": 1}{\"b\": 2}";
    let used = decoder.feed_until_message(input);
    assert_eq!(used, 8);
    // While a message waits, nothing more is read.
    assert_eq!(decoder.feed_until_message(&input[used..]), 0);
    assert!(decoder.next().unwrap().is_ok());
    assert_eq!(decoder.feed_until_message(&input[used..]), 8);
}

#[test]
fn finish_flushes_like_qemus_end_of_input() {
    let mut decoder = Decoder::new();
    decoder.feed(b"7");
    decoder.finish();
    assert_eq!(decoder.next(), Some(Ok(Value::Int(7))));
    decoder.feed(b"{\"a\": ");
    decoder.finish();
    assert_eq!(
        decoder.next(),
        Some(Err(JsonError::Parse(ParseError::PrematureEoi)))
    );
    decoder.feed(b"\"open");
    decoder.finish();
    assert_eq!(decoder.next(), Some(Err(JsonError::Stray("\"open".into()))));
    assert_eq!(decoder.next(), None);
}

#[test]
fn documents_hold_exactly_one_value() {
    assert_eq!(
        qmp_wire::from_str(" [1] "),
        Ok(Value::Array(vec![Value::Int(1)]))
    );
    assert_eq!(qmp_wire::from_str("1 2"), Err(JsonError::TrailingValue));
    assert_eq!(qmp_wire::from_str("  "), Err(JsonError::Empty));
    assert_eq!(
        qmp_wire::from_str("{\"a\": 1, \"a\": 2}"),
        Err(JsonError::Parse(ParseError::DuplicateKey))
    );
}

#[test]
fn grammar_errors_are_the_first_qemu_finds() {
    let first_error = |text: &str| match decode(text.as_bytes()).remove(0) {
        Err(JsonError::Parse(e)) => e.to_string(),
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(first_error("{[}]"), "expecting value");
    assert_eq!(first_error("{[1}: 2]"), "expected separator in list");
    assert_eq!(first_error("{[1]: 2}"), "key is not a string in object");
    assert_eq!(first_error("{foo: 2}"), "invalid keyword 'foo'");
    assert_eq!(first_error("{true: 2}"), "key is not a string in object");
    assert_eq!(
        first_error(r#"{"a": 1, "a": {"b" 1}}"#),
        "missing : in object pair"
    );
    assert_eq!(first_error(r#"{"a": 1, "a": 2}"#), "duplicate key");
    assert_eq!(first_error(r#"[{"a": 1, "a": 2}]"#), "duplicate key");
    assert_eq!(
        first_error(r#"["\x", "\uD800"]"#),
        "invalid escape sequence in string"
    );
    assert_eq!(first_error("[1 2]"), "expected separator in list");
    assert_eq!(
        first_error(r#"{"a": 1 "b": 2}"#),
        "expected separator in dict"
    );
    // A lexical error later in the same message wins over a grammar error.
    assert_eq!(
        decode(b"[1 2 \x01"),
        vec![Err(JsonError::Stray("\u{1}".into()))]
    );
}

#[test]
fn large_objects_check_duplicates_in_linear_time() {
    let members: Vec<String> = (0..50_000).map(|i| format!("\"k{i}\": {i}")).collect();
    let text = format!("{{{}}}", members.join(", "));
    let start = std::time::Instant::now();
    let items = decode(text.as_bytes());
    assert_eq!(
        items[0].as_ref().map(|v| v.as_object().map(|m| m.len())),
        Ok(Some(50_000))
    );
    let dup = format!("{{{}, \"k7\": 0}}", members.join(", "));
    assert_eq!(
        decode(dup.as_bytes())[0],
        Err(JsonError::Parse(ParseError::DuplicateKey))
    );
    // Quadratic checking would take minutes here.
    assert!(start.elapsed().as_secs() < 30);
}

#[test]
fn seed_corpus_replays_cleanly() {
    let dir = qmp_test_support::workspace_root().join("fuzz/corpus/decode");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz corpus folder") {
        let bytes = std::fs::read(entry.expect("corpus entry").path()).expect("corpus file");
        let body = bytes.get(1..).unwrap_or_default();
        let whole = decode(body);
        let mut bytewise = Decoder::new();
        for b in body {
            bytewise.feed(std::slice::from_ref(b));
        }
        let pieces: Vec<_> = std::iter::from_fn(|| bytewise.next()).collect();
        assert_eq!(pieces, whole);
        replayed += 1;
    }
    assert!(replayed >= 100, "seed corpus too small: {replayed}");
    println!("replayed {replayed} corpus entries");
}

/// QEMU formats grammar errors into a 1024-byte buffer: from a 1006-byte
/// keyword on, the closing quote and then the word itself are cut (checked
/// against QEMU 7.2: 1,005 bytes give the whole text, 1,006 and 8 MiB the
/// same 1,023). Lexical errors are not cut.
#[test]
fn long_error_texts_are_cut_as_qemus_message_buffer_cuts_them() {
    let keyword_error = |len: usize| {
        let mut input = b"{\"a\": ".to_vec();
        input.resize(input.len() + len, b'x');
        input.push(b'}');
        let mut decoder = Decoder::new();
        decoder.feed(&input);
        decoder.next().unwrap().unwrap_err().to_string()
    };
    let prefix = "JSON parse error, ";
    let whole = keyword_error(1005);
    assert_eq!(whole.len(), prefix.len() + 1023);
    assert!(whole.ends_with("x'"), "{whole}");
    let cut = keyword_error(1006);
    assert_eq!(cut.len(), prefix.len() + 1023);
    assert!(cut.ends_with("xx"), "{cut}");
    assert_eq!(keyword_error(9 << 20), cut);
    assert_eq!(keyword_error(4), "JSON parse error, invalid keyword 'xxxx'");

    let mut stray = b"{\"a\": \"".to_vec();
    stray.resize(stray.len() + 2000, b'y');
    stray.push(1);
    let mut decoder = Decoder::new();
    decoder.feed(&stray);
    let text = decoder.next().unwrap().unwrap_err().to_string();
    assert!(text.ends_with("yy\u{1}'"), "not cut");
}
