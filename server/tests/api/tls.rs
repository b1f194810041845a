//! `cameo serve` over HTTPS: a CA and a server certificate made in the test, a client that
//! trusts that CA, a plain-HTTP client told to use https, and unusable certificate files.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

use crate::support::config;

/// Writes a CA and a certificate for localhost and 127.0.0.1 signed by it; returns the
/// paths of the CA, the certificate and its key.
fn certificates(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

fn agent(ca: Option<&Path>) -> ureq::Agent {
    let builder = ureq::Agent::config_builder().http_status_as_error(false);
    let builder = match ca {
        Some(ca) => {
            let pem = std::fs::read(ca).unwrap();
            let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item.unwrap() {
                    ureq::tls::PemItem::Certificate(cert) => Some(cert),
                    _ => None,
                })
                .collect();
            builder.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs)))
                    .build(),
            )
        }
        None => builder,
    };
    builder.build().into()
}

fn get(agent: &ureq::Agent, url: &str, token: Option<&str>) -> Result<(u16, String), String> {
    let request = ureq::http::Request::builder().uri(url);
    let request = match token {
        Some(token) => request.header("Authorization", format!("Bearer {token}")),
        None => request,
    };
    let mut response = agent
        .run(request.body(()).unwrap())
        .map_err(|err| err.to_string())?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Ok((status, text))
}

#[test]
fn the_api_is_served_over_tls_to_a_client_that_trusts_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let mut config = config(&dir.path().join("data"));
    config.tls = Some(cameo_server::tls::TlsFiles { cert, key });
    let data = config.data_dir.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            cameo_server::run(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    let trusting = agent(Some(&ca));
    let mut ready = false;
    for _ in 0..2000 {
        if let Ok((200, _)) = get(
            &trusting,
            &format!("https://127.0.0.1:{}/readyz", addr.port()),
            None,
        ) {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(ready, "the server got ready over https");
    let admin = std::fs::read_to_string(data.join("admin.token")).unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("https://{host}:{}/v1/whoami", addr.port());
        let (status, text) = get(&trusting, &url, Some(admin.trim())).unwrap();
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("\"role\":\"admin\""), "{text}");
    }

    // Plain HTTP is answered with what to do, not a hang-up.
    let (status, text) = get(&agent(None), &format!("http://{addr}/healthz"), None).unwrap();
    assert_eq!(status, 400);
    assert!(
        text.contains("this server speaks TLS: use https://"),
        "{text}"
    );

    // A client that does not trust the CA is refused by its own TLS check.
    let untrusting = agent(Some(&dir.path().join("cert.pem")));
    let err = get(&untrusting, &format!("https://{addr}/healthz"), None).unwrap_err();
    assert!(
        err.to_lowercase().contains("certificate") || err.contains("issuer"),
        "{err}"
    );

    let _ = stop.send(());
    thread.join().unwrap();
}

#[test]
fn unusable_certificate_and_key_files_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = certificates(dir.path());
    let missing = dir.path().join("nothere.pem");
    let files = |cert: &Path, key: &Path| cameo_server::tls::TlsFiles {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
    };
    let error = |files| match cameo_server::tls::acceptor(&files) {
        Ok(_) => panic!("accepted"),
        Err(err) => err.to_string(),
    };
    let text = error(files(&missing, &key));
    assert!(
        text.starts_with(&format!(
            "the TLS certificate {} could not be used: ",
            missing.display()
        )),
        "{text}"
    );
    assert!(
        text.ends_with("give a PEM file (--tls-cert, --tls-key)"),
        "{text}"
    );
    // A key file with no key in it (the certificate given twice).
    let text = error(files(&cert, &cert));
    assert!(
        text.starts_with(&format!(
            "the TLS key {} could not be used: ",
            cert.display()
        )),
        "{text}"
    );
    // A certificate file with no certificate in it.
    let text = error(files(&key, &key));
    assert!(text.contains("it holds no CERTIFICATE"), "{text}");
    // A key that is not the certificate's.
    let (_, other_cert, _) = certificates(&{
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        other
    });
    let text = error(files(&other_cert, &key));
    assert!(
        text.starts_with("the TLS certificate and key do not work together: "),
        "{text}"
    );
    assert!(cameo_server::tls::acceptor(&files(&cert, &key)).is_ok());
}
