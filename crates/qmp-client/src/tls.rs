//! TLS to a monitor on TCP, as QEMU serves it with `-object
//! tls-creds-x509,...` and `-chardev socket,...,tls-creds=ID` (and as
//! qemu.qmp's `ssl=` connects): the server is verified against a CA file,
//! and a client certificate is presented when QEMU asks for one
//! (`verify-peer=on`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::{Error, Result};

/// How to secure a TCP connection.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    /// The CA certificates (PEM) the server's certificate must chain to
    /// (QEMU's `ca-cert.pem`).
    pub ca_file: PathBuf,
    /// The name the server's certificate must carry (a host name or an IP
    /// address); by default the host of the address connected to.
    pub server_name: Option<String>,
    /// A client certificate and its key (PEM), for a server with
    /// `verify-peer=on`.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl TlsOptions {
    /// Verifies the server against `ca_file`, with no client certificate.
    pub fn with_ca(ca_file: impl Into<PathBuf>) -> TlsOptions {
        TlsOptions {
            ca_file: ca_file.into(),
            server_name: None,
            identity: None,
        }
    }
}

fn tls_error(address: &str, what: impl std::fmt::Display) -> Error {
    Error::connect(address, std::io::Error::other(format!("TLS: {what}")))
}

fn read_certs(path: &Path, address: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: std::result::Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_error(address, format!("cannot read {}: {e}", path.display())))?
        .collect();
    certs.map_err(|e| tls_error(address, format!("{}: {e}", path.display())))
}

/// Connects to `address` (`HOST:PORT`) over TCP and secures it with TLS:
/// the stream a client runs over.
pub(crate) async fn connect(address: &str, tls: &TlsOptions) -> Result<impl crate::ByteStream> {
    {
        let mut roots = rustls::RootCertStore::empty();
        let (_, ignored) = roots.add_parsable_certificates(read_certs(&tls.ca_file, address)?);
        if roots.is_empty() {
            return Err(tls_error(
                address,
                format!(
                    "no usable CA certificate in {} ({ignored} ignored)",
                    tls.ca_file.display()
                ),
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(address, e))?
            .with_root_certificates(roots);
        let settings = match &tls.identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| tls_error(address, format!("{}: {e}", key.display())))?;
                builder
                    .with_client_auth_cert(read_certs(cert, address)?, key)
                    .map_err(|e| tls_error(address, e))?
            }
        };
        let host = match &tls.server_name {
            Some(name) => name.clone(),
            None => host_of(address).to_owned(),
        };
        let name = ServerName::try_from(host).map_err(|e| tls_error(address, e))?;
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| Error::connect(address, e))?;
        tcp.set_nodelay(true)?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(settings));
        let stream = connector
            .connect(name, tcp)
            .await
            .map_err(|e| tls_error(address, e))?;
        Ok(Nudged::new(stream))
    }
}

/// QEMU (7.2 at least) reads a TLS monitor a little at a time and looks
/// at the socket again only when more arrives, so the rest of a record's
/// plaintext waits in its TLS buffer: a request is not answered until the
/// client sends something after it. After every flush of data this stream
/// sends one more record holding a line feed, which QMP ignores between
/// messages, so that QEMU reads the request (measured against QEMU 7.2:
/// without it `qmp_capabilities` is never answered).
struct Nudged<S> {
    inner: S,
    owed: bool,
}

impl<S> Nudged<S> {
    fn new(inner: S) -> Nudged<S> {
        Nudged { inner, owed: false }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Nudged<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Nudged<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bytes: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let written = std::task::ready!(std::pin::Pin::new(&mut self.inner).poll_write(cx, bytes))?;
        self.owed |= written > 0;
        std::task::Poll::Ready(Ok(written))
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        while self.owed {
            // A record of its own: rustls seals each write separately.
            let written =
                std::task::ready!(std::pin::Pin::new(&mut self.inner).poll_write(cx, b"\n"))?;
            if written == 0 {
                return std::task::Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.owed = false;
        }
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The host part of `HOST:PORT` (`[::1]:4444` gives `::1`).
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_of_an_address() {
        assert_eq!(super::host_of("127.0.0.1:4444"), "127.0.0.1");
        assert_eq!(super::host_of("[::1]:4444"), "::1");
        assert_eq!(super::host_of("qemu.example:1"), "qemu.example");
    }
}
