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
    /// Mutual TLS: a PEM certificate chain and its PEM private key.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
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
    #[error("client certificate {}: {reason}", path.display())]
    ClientCert { path: PathBuf, reason: String },
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
        let client_auth = self.client_auth()?;
        // Both ways end in the same builder state; the client certificate
        // (or none) is added once, below.
        let b = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
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
            builder.with_root_certificates(roots)
        };
        let cfg = match client_auth {
            Some((chain, key)) => {
                b.with_client_auth_cert(chain, key)
                    .map_err(|e| TlsError::ClientCert {
                        path: self.client_cert.clone().unwrap_or_default(),
                        reason: e.to_string(),
                    })?
            }
            None => b.with_no_client_auth(),
        };
        Ok(cfg)
    }

    /// The client certificate chain and key, when mutual TLS is configured.
    #[allow(clippy::type_complexity)]
    fn client_auth(
        &self,
    ) -> Result<
        Option<(
            Vec<CertificateDer<'static>>,
            rustls::pki_types::PrivateKeyDer<'static>,
        )>,
        TlsError,
    > {
        let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) else {
            return Ok(None);
        };
        use rustls_pki_types::pem::PemObject;
        let bad = |path: &PathBuf, reason: String| TlsError::ClientCert {
            path: path.clone(),
            reason,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| bad(cert, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(cert, e.to_string()))?;
        if chain.is_empty() {
            return Err(bad(cert, "no PEM certificate found".into()));
        }
        // The key's reason never includes the key itself.
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key)
            .map_err(|e| bad(key, format!("not a PEM private key ({e})")))?;
        Ok(Some((chain, key)))
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
