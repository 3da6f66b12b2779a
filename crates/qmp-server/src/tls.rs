//! TLS on TCP, as QEMU serves a monitor with `-object tls-creds-x509,...`
//! and `-chardev socket,...,tls-creds=ID`: the server presents a
//! certificate chain (QEMU's `server-cert.pem` and `server-key.pem`) and,
//! when asked, requires a client certificate signed by a CA
//! (`verify-peer=on`).

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use crate::conn::Connection;
use crate::Server;

/// The longest a client may take over the TLS handshake; a slower one is
/// dropped, so that it cannot hold up the clients after it.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's TLS settings.
#[derive(Clone)]
pub struct TlsConfig {
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}: {what}", path.display()),
    )
}

fn read_certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| invalid(path, e))?
        .collect();
    let certs = certs.map_err(|e| invalid(path, e))?;
    if certs.is_empty() {
        return Err(invalid(path, "no certificate"));
    }
    Ok(certs)
}

impl TlsConfig {
    /// Presents the certificate chain in `cert` (PEM, the server's first)
    /// with its private key in `key` (PEM); clients need no certificate.
    pub fn from_pem_files(cert: &Path, key: &Path) -> io::Result<TlsConfig> {
        TlsConfig::build(cert, key, None)
    }

    /// As [`from_pem_files`](TlsConfig::from_pem_files), and requires
    /// every client to present a certificate signed by a CA in `ca` (PEM),
    /// as QEMU's `verify-peer=on`.
    pub fn from_pem_files_verifying_clients(
        cert: &Path,
        key: &Path,
        ca: &Path,
    ) -> io::Result<TlsConfig> {
        TlsConfig::build(cert, key, Some(ca))
    }

    /// Any rustls server configuration.
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> TlsConfig {
        TlsConfig {
            acceptor: tokio_rustls::TlsAcceptor::from(config),
        }
    }

    fn build(cert: &Path, key: &Path, ca: Option<&Path>) -> io::Result<TlsConfig> {
        let chain = read_certs(cert)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid(key, e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?;
        let builder = match ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                let (added, _) = roots.add_parsable_certificates(read_certs(ca)?);
                if added == 0 {
                    return Err(invalid(ca, "no usable CA certificate"));
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(io::Error::other)?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| invalid(cert, e))?;
        Ok(TlsConfig::from_rustls(Arc::new(config)))
    }
}

impl Server {
    /// Accepts sessions on a TCP listener until shutdown, each secured
    /// with TLS (no fd passing). A client whose handshake fails or takes
    /// longer than [`TLS_HANDSHAKE_TIMEOUT`] is dropped and logged.
    pub async fn serve_tls_listener(
        &self,
        listener: TcpListener,
        tls: TlsConfig,
    ) -> io::Result<()> {
        self.accept_loop(|| async {
            loop {
                let (stream, peer) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                let handshake = tls.acceptor.accept(stream);
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
                    Ok(Ok(stream)) => return Ok(Connection::stream(stream)),
                    Ok(Err(e)) => tracing::warn!(%peer, "TLS handshake failed: {e}"),
                    Err(_) => tracing::warn!(%peer, "TLS handshake timed out"),
                }
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::TlsConfig;

    #[test]
    fn unreadable_files_are_named_in_the_error() {
        let dir = qmp_test_support::temp_dir();
        let cert = dir.path().join("server-cert.pem");
        let key = dir.path().join("server-key.pem");
        let err = TlsConfig::from_pem_files(&cert, &key).unwrap_err();
        assert!(err.to_string().contains("server-cert.pem"), "{err}");
        std::fs::write(&cert, "not PEM\n").unwrap();
        let err = TlsConfig::from_pem_files(&cert, &key).unwrap_err();
        assert!(err.to_string().contains("server-cert.pem"), "{err}");
    }
}
