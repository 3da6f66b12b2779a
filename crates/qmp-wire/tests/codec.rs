//! The tokio codec: framing over an async stream, JSON errors as items,
//! bytes after a message left unread until the message is taken.
#![cfg(feature = "tokio-codec")]

use futures_util::{SinkExt, StreamExt};
use qmp_wire::codec::QmpCodec;
use qmp_wire::{JsonError, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{FramedRead, FramedWrite};

#[tokio::test]
async fn reads_messages_and_errors_across_writes() {
    let (client, server) = tokio::io::duplex(64);
    let mut frames = FramedRead::new(server, QmpCodec::qmp());
    let writer = tokio::spawn(async move {
        let mut client = client;
        for piece in [
            &b"{\"execute\": "[..],
            b"\"stop\"}\x01{\"a\"",
            b": [1, 2]} 42",
        ] {
            client.write_all(piece).await.unwrap();
            tokio::task::yield_now().await;
        }
        // Dropping the client ends the stream: the final 42 is flushed.
    });
    let mut items = Vec::new();
    while let Some(item) = frames.next().await {
        items.push(item.unwrap());
    }
    writer.await.unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(
        items[0]
            .as_ref()
            .unwrap()
            .get("execute")
            .and_then(Value::as_str),
        Some("stop")
    );
    assert_eq!(items[1], Err(JsonError::Stray("\u{1}".into())));
    assert!(items[2].as_ref().unwrap().get("a").is_some());
    assert_eq!(items[3], Ok(Value::Int(42)));
}

#[tokio::test]
async fn writes_messages_with_the_line_ending() {
    let (client, mut server) = tokio::io::duplex(1024);
    let mut qmp = FramedWrite::new(client, QmpCodec::qmp());
    qmp.send(Value::from("é")).await.unwrap();
    drop(qmp);
    let mut out = Vec::new();
    server.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, b"\"\\u00E9\"\r\n");

    let (client, mut server) = tokio::io::duplex(1024);
    let mut qga = FramedWrite::new(client, QmpCodec::qga());
    qga.send(&Value::Int(1)).await.unwrap();
    drop(qga);
    let mut out = Vec::new();
    server.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, b"1\n");
}
