//! TLS with rustls: HTTP/2 (negotiated by ALPN) and HTTP/1.1, so a browser can keep many
//! dashboard tabs on one connection instead of hitting HTTP/1.1's six per origin.
//!
//! The certificate sits behind a [`Certificate`] the acceptor asks on every handshake, so a
//! reload (SIGHUP) swaps it for new connections while open ones keep the one they began with.

use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::sync::{read, write};

/// The server's certificate and key, replaceable while connections use it.
#[derive(Debug)]
pub struct Certificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificate {
    /// The PEM certificate chain and private key at these paths.
    ///
    /// # Errors
    /// When a file cannot be read or parsed, or the key does not match the certificate.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            current: RwLock::new(Arc::new(certified_key(cert, key)?)),
        }))
    }

    /// Reads the files again, for [`Certificate::replace`]; with it, whether the chain
    /// differs from the one served now.
    ///
    /// # Errors
    /// As [`Certificate::load`].
    pub fn prepare(&self, cert: &Path, key: &Path) -> anyhow::Result<(CertifiedKey, bool)> {
        let fresh = certified_key(cert, key)?;
        let changed = read(&self.current).cert != fresh.cert;
        Ok((fresh, changed))
    }

    /// Serves `certified` to every handshake from now on.
    pub fn replace(&self, certified: CertifiedKey) {
        *write(&self.current) = Arc::new(certified);
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(read(&self.current).clone())
    }
}

/// An acceptor serving `certificate` (as it is at each handshake).
///
/// # Errors
/// When rustls has no safe protocol version for the provider (never with ring).
pub fn acceptor(certificate: Arc<Certificate>) -> anyhow::Result<TlsAcceptor> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The chain and key at these paths, checked to belong together.
fn certified_key(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading the TLS certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing the TLS certificate {}", cert.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "the TLS certificate {} holds no PEM certificate",
        cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the TLS key {}", key.display()))?;
    CertifiedKey::from_der(chain, key, &provider())
        .context("the TLS key does not match the certificate")
}
