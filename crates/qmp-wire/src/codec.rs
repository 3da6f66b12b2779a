//! A tokio-util codec over the [`Decoder`] and [`Encoder`] (feature
//! `tokio-codec`).
//!
//! Each decoded item is a [`Decoded`]: a value, or the JSON error QEMU
//! would report in its place; JSON errors do not end the stream. The codec
//! hands the decoder only the bytes up to the end of each message, so bytes
//! after it stay in the read buffer until the item is taken.

use bytes::{Buf, BytesMut};
use tokio_util::codec;

use crate::{Decoded, Decoder, Encoder, Limits, Value};

/// A framed QMP (or guest agent) stream.
#[derive(Debug)]
pub struct QmpCodec {
    decoder: Decoder,
    encoder: Encoder,
}

impl QmpCodec {
    /// A codec for a QMP monitor (CRLF line endings).
    pub fn qmp() -> QmpCodec {
        QmpCodec::new(Encoder::QMP, Limits::QEMU)
    }

    /// A codec for the guest agent (LF line endings).
    pub fn qga() -> QmpCodec {
        QmpCodec::new(Encoder::QGA, Limits::QEMU)
    }

    /// A codec with a chosen encoder and decoder limits.
    pub fn new(encoder: Encoder, limits: Limits) -> QmpCodec {
        QmpCodec {
            decoder: Decoder::with_limits(limits),
            encoder,
        }
    }

    /// The underlying decoder (to reset it, for example).
    pub fn decoder_mut(&mut self) -> &mut Decoder {
        &mut self.decoder
    }
}

impl codec::Decoder for QmpCodec {
    type Item = Decoded;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, std::io::Error> {
        if let Some(item) = self.decoder.next() {
            return Ok(Some(item));
        }
        let used = self.decoder.feed_until_message(src);
        src.advance(used);
        Ok(self.decoder.next())
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, std::io::Error> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        if src.is_empty() {
            self.decoder.finish();
        }
        Ok(self.decoder.next())
    }
}

impl codec::Encoder<&Value> for QmpCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: &Value, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        let mut out = Vec::with_capacity(64);
        self.encoder.write_message(item, &mut out);
        dst.extend_from_slice(&out);
        Ok(())
    }
}

impl codec::Encoder<Value> for QmpCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: Value, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        codec::Encoder::<&Value>::encode(self, &item, dst)
    }
}
