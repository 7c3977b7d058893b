//! Client certificates for mutual TLS: a loopback HTTPS server that asks
//! for a client certificate signed by its CA (rcgen, made at test time)
//! answers stampede only when `[target] client_cert` / `client_key` are set.

use crate::common;
use common::TempDir;

use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use stampede::engine::Control;
use stampede::scenario::{self, Overrides};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    server: (Vec<CertificateDer<'static>>, Vec<u8>),
    client_pem: (String, String),
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "stampede mTLS test CA");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let leaf = |names: Vec<String>, usage| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(names).unwrap();
        p.is_ca = rcgen::IsCa::ExplicitNoCa;
        p.extended_key_usages = vec![usage];
        (p.signed_by(&key, &issuer).unwrap(), key)
    };
    let (server, server_key) = leaf(
        vec!["127.0.0.1".into()],
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client, client_key) = leaf(
        vec!["load-generator".into()],
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    );
    Pki {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().clone(),
        server: (
            vec![server.der().clone(), ca_cert.der().clone()],
            server_key.serialize_der(),
        ),
        client_pem: (client.pem(), client_key.serialize_pem()),
    }
}

/// An HTTPS server that requires a client certificate from the CA; counts
/// the requests it answered.
async fn mtls_server(pki: &Pki) -> (u16, Arc<AtomicU64>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server.1.clone()));
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(pki.server.0.clone(), key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let answered = Arc::new(AtomicU64::new(0));
    let count = answered.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    // stampede's one probe (is this `stampede serve`?) is no attempt.
                    if req.uri().path() != "/__sim/ledger" {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    async {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            bytes::Bytes::from_static(b"{}"),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (port, answered)
}

async fn run(dir: &TempDir, port: u16, target_keys: &[(&str, &str)]) -> stampede::report::Report {
    let file = dir.path().join("mtls.toml");
    common::scenario()
        .compare(&["naive"])
        .target(&format!("https://127.0.0.1:{port}"))
        .target_key("ca_file", "\"ca.pem\"")
        .target_keys(target_keys)
        .ticket_drop(5, "100ms")
        .drain("10s")
        .steps(r#"[{ name = "a", path = "/a", retry = false }]"#)
        .write(&file);
    let plan = scenario::load(&file, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
    stampede::run::execute(&plan, &Control::default(), None)
        .await
        .expect("run")
        .report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_open_a_mutual_tls_target() {
    let pki = pki();
    let dir = TempDir::new("mtls");
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(dir.path().join("client.pem"), &pki.client_pem.0).unwrap();
    std::fs::write(dir.path().join("client.key"), &pki.client_pem.1).unwrap();
    let (port, answered) = mtls_server(&pki).await;

    let r = run(
        &dir,
        port,
        &[
            ("client_cert", "\"client.pem\""),
            ("client_key", "\"client.key\""),
        ],
    )
    .await;
    let c = &r.results[0];
    assert_eq!(
        c.counts.outcomes.get("OK"),
        Some(&5),
        "{:?}",
        c.counts.outcomes
    );
    assert_eq!(answered.load(Ordering::Relaxed), 5);

    // Without the certificate the server answers nothing.
    let r = run(&dir, port, &[]).await;
    let c = &r.results[0];
    assert_eq!(c.counts.outcomes.get("OK"), None, "{:?}", c.counts.outcomes);
    assert_eq!(answered.load(Ordering::Relaxed), 5);

    // A key without a certificate (or the reverse) is a configuration error.
    let file = dir.path().join("half.toml");
    std::fs::write(
        &file,
        format!(
            "[target]\nurl = \"https://127.0.0.1:{port}\"\nclient_key = \"client.key\"\n[load]\nmodel = \"ticket-drop\"\nusers = 1\nover = \"1s\"\n[journey]\n[[journey.steps]]\nname = \"a\"\npath = \"/a\"\n"
        ),
    )
    .unwrap();
    let e = scenario::load(&file, &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("target.client_key") && e.contains("client_cert"),
        "{e}"
    );
}
