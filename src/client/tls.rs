//! rustls client configuration: public roots, system roots, a private CA for
//! staging, or (loudly) no verification at all.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Extra PEM CA bundle trusted on top of the public roots.
    pub ca_file: Option<PathBuf>,
    /// Also trust the operating system's roots.
    pub system_roots: bool,
    /// Skip certificate verification entirely.
    pub insecure: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read CA file {}: {source}", path.display())]
    CaRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CA file {} holds no usable certificate: {reason}", path.display())]
    CaInvalid { path: PathBuf, reason: String },
}

impl TlsOptions {
    pub fn client_config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::CaInvalid {
                path: PathBuf::new(),
                reason: e.to_string(),
            })?;
        let cfg = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
                .with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            if self.system_roots {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
            if let Some(path) = &self.ca_file {
                let pem = std::fs::read(path).map_err(|source| TlsError::CaRead {
                    path: path.clone(),
                    source,
                })?;
                let mut added = 0;
                for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
                    let cert: CertificateDer<'static> = cert.map_err(|e| TlsError::CaInvalid {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                    roots.add(cert).map_err(|e| TlsError::CaInvalid {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                    added += 1;
                }
                if added == 0 {
                    return Err(TlsError::CaInvalid {
                        path: path.clone(),
                        reason: "no PEM certificate found".into(),
                    });
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        Ok(cfg)
    }
}

/// Accepts any certificate; only reachable through an explicit `--insecure`.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
