//! `ca.crt`: trusting a private CA for HTTPS remotes, on top of the system trust store.
//!
//! libgit2 validates against the system store; its certificate callback then lets us accept a
//! server certificate that chains directly to a CA from the Secret (verified with webpki:
//! signature, validity, server-auth usage and host name). Anything else is left to libgit2.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

use super::Error;

/// CAs from a Secret's `ca.crt`.
#[derive(Clone, Debug)]
pub struct TrustedCa {
    anchors: Vec<TrustAnchor<'static>>,
}

impl TrustedCa {
    /// Parse PEM certificates; errors name the Secret.
    pub fn from_pem(secret: &str, pem: &[u8]) -> Result<Self, Error> {
        let invalid =
            |why: String| Error::InvalidSpec(format!("secret {secret:?}: \"ca.crt\": {why}"));
        let mut anchors = Vec::new();
        for der in CertificateDer::pem_slice_iter(pem) {
            let der = der.map_err(|e| invalid(e.to_string()))?;
            let anchor =
                webpki::anchor_from_trusted_cert(&der).map_err(|e| invalid(e.to_string()))?;
            anchors.push(anchor.to_owned());
        }
        if anchors.is_empty() {
            return Err(invalid("no PEM certificate found".into()));
        }
        Ok(TrustedCa { anchors })
    }

    /// Whether the DER server certificate `leaf` is issued by one of the CAs and valid for
    /// `host` now.
    pub fn verifies(&self, leaf: &[u8], host: &str) -> bool {
        let der = CertificateDer::from(leaf);
        let (Ok(cert), Ok(name)) = (EndEntityCert::try_from(&der), ServerName::try_from(host))
        else {
            return false;
        };
        cert.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            &[],
            UnixTime::now(),
            KeyUsage::server_auth(),
            None,
            None,
        )
        .is_ok()
            && cert.verify_is_valid_for_subject_name(&name).is_ok()
    }
}
