//! Serving identity: a CA and a server certificate (rcgen), kept in the data directory so that a
//! restarted server is trusted by the kubeconfigs it wrote before.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Certificate generation or loading failures.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen refused the parameters.
    #[error("cannot generate certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The key files cannot be read or written.
    #[error("cannot access TLS files: {0}")]
    Io(#[from] std::io::Error),
    /// Stored PEM is malformed.
    #[error("cannot parse stored TLS material: {0}")]
    Pem(#[from] rustls::pki_types::pem::Error),
    /// rustls refused the certificate.
    #[error("cannot build TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The CA clients trust and the server's certificate chain and key.
#[derive(Debug, Clone)]
pub struct Identity {
    /// CA certificate (PEM), for `certificate-authority-data`.
    pub ca_pem: String,
    /// Server certificate (PEM).
    pub cert_pem: String,
    /// Server key (PEM).
    pub key_pem: String,
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "crosstie-ca");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// Loads the CA from `dir` (creating it on first start) and issues a fresh server certificate
/// for localhost, 127.0.0.1, ::1 and `extra_ip`.
pub fn load_or_create(dir: &Path, extra_ip: Option<IpAddr>) -> Result<Identity, TlsError> {
    let (ca_cert_path, ca_key_path) = (dir.join("ca.crt"), dir.join("ca.key"));
    let (ca_pem, ca_key) = if ca_cert_path.exists() && ca_key_path.exists() {
        let key = KeyPair::from_pem(&std::fs::read_to_string(&ca_key_path)?)?;
        (std::fs::read_to_string(&ca_cert_path)?, key)
    } else {
        let key = KeyPair::generate()?;
        let cert = ca_params().self_signed(&key)?;
        super::write_private(&ca_key_path, key.serialize_pem().as_bytes())?;
        std::fs::write(&ca_cert_path, cert.pem())?;
        (cert.pem(), key)
    };
    let issuer = Issuer::new(ca_params(), ca_key);
    let mut hosts = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    if let Some(ip) = extra_ip.filter(|ip| !ip.is_unspecified() && !ip.is_loopback()) {
        hosts.push(ip.to_string());
    }
    let mut params = CertificateParams::new(hosts)?;
    params.distinguished_name.push(DnType::CommonName, "crosstie");
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Identity { ca_pem, cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// A rustls server configuration offering HTTP/2 and HTTP/1.1.
pub fn server_config(identity: &Identity) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = vec![CertificateDer::from_pem_slice(identity.cert_pem.as_bytes())?];
    let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
