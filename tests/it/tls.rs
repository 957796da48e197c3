//! TLS and mutual TLS with generated certificates: a client with a certificate from the client
//! CA scores; one without a certificate (or without the token, when tokens are on too) is
//! refused with UNAUTHENTICATED while health stays open; a certificate from another CA fails the
//! handshake; plaintext does not reach a TLS port.

use crate::common;

use std::path::{Path, PathBuf};

use common::{default_config, free_port, good_account, repo, TestServer};
use payrisk::grpc::layers::tls::TlsConfig;
use payrisk::grpc::proto::v1 as pb;
use payrisk::grpc::proto::v1::scoring_service_client::ScoringServiceClient;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// A CA that can issue certificates.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate and key (PEM) for `names`, for server or client use.
    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let key = KeyPair::generate().expect("leaf key");
        let sans: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(sans).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        (cert.pem(), key.serialize_pem())
    }
}

/// Test PKI on disk: the server's CA and certificate, the client CA, a client certificate it
/// issued, and a client certificate from an unrelated CA.
struct Pki {
    dir: tempfile::TempDir,
    server_ca: String,
    client: Identity,
    stranger: Identity,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let server_ca = Ca::new("payrisk test server CA");
        let client_ca = Ca::new("payrisk test client CA");
        let other_ca = Ca::new("someone else's CA");
        let (cert, key) = server_ca.issue(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        write(dir.path(), "server.crt", &cert);
        write(dir.path(), "server.key", &key);
        write(dir.path(), "client-ca.crt", &client_ca.pem);
        let (c, k) = client_ca.issue(&["worklist-builder"], ExtendedKeyUsagePurpose::ClientAuth);
        let (sc, sk) = other_ca.issue(&["worklist-builder"], ExtendedKeyUsagePurpose::ClientAuth);
        Pki {
            dir,
            server_ca: server_ca.pem,
            client: Identity::from_pem(c, k),
            stranger: Identity::from_pem(sc, sk),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self, mutual: bool) -> TlsConfig {
        TlsConfig {
            cert: self.path("server.crt"),
            key: self.path("server.key"),
            client_ca: mutual.then(|| self.path("client-ca.crt")),
        }
    }

    /// A channel presenting the client CA's certificate.
    async fn trusted(&self, server: &TestServer) -> Channel {
        self.channel(server, Some(&self.client))
            .await
            .expect("mTLS connect")
    }

    /// A TLS channel that trusts the server's CA, presenting `identity` if any.
    async fn channel(
        &self,
        server: &TestServer,
        identity: Option<&Identity>,
    ) -> Result<Channel, tonic::transport::Error> {
        self.channel_to(server.addr, identity).await
    }

    /// [`Pki::channel`] to any address.
    async fn channel_to(
        &self,
        addr: std::net::SocketAddr,
        identity: Option<&Identity>,
    ) -> Result<Channel, tonic::transport::Error> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.server_ca))
            .domain_name("localhost");
        if let Some(id) = identity {
            tls = tls.identity(id.clone());
        }
        Channel::from_shared(format!("https://{addr}"))
            .expect("uri")
            .tls_config(tls)?
            .connect()
            .await
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write PEM");
}

fn score_request(token: Option<&str>) -> tonic::Request<pb::ScoreRequest> {
    let mut request = tonic::Request::new(pb::ScoreRequest {
        account: Some(good_account("tls")),
        ..Default::default()
    });
    if let Some(t) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {t}").parse().expect("ascii"),
        );
    }
    request
}

async fn health(channel: Channel) -> ServingStatus {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health is open");
    response.into_inner().status()
}

#[tokio::test]
async fn tls_serves_encrypted_calls_and_plaintext_does_not_reach_it() {
    let pki = Pki::new();
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        tls: Some(pki.config(false)),
        ..default_config()
    })
    .await;
    let channel = pki.channel(&server, None).await.expect("TLS connect");
    let response = ScoringServiceClient::new(channel)
        .score(score_request(None))
        .await
        .expect("score over TLS without a client certificate (no mTLS)");
    let p = response.into_inner().repayment_probability;
    assert!((0.0..=1.0).contains(&p), "{p}");

    // A plaintext HTTP/2 client gets no answer from the TLS port.
    let plain = Channel::from_shared(format!("http://{}", server.addr))
        .expect("uri")
        .connect()
        .await;
    if let Ok(plain) = plain {
        let status = ScoringServiceClient::new(plain)
            .score(score_request(None))
            .await
            .expect_err("plaintext refused");
        assert_ne!(status.code(), Code::Ok);
    }
    server.stop().await;
}

#[tokio::test]
async fn mutual_tls_refuses_missing_and_foreign_client_certificates() {
    let pki = Pki::new();
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        tls: Some(pki.config(true)),
        ..default_config()
    })
    .await;

    // A certificate from the client CA: scored.
    let trusted = pki.trusted(&server).await;
    ScoringServiceClient::new(trusted.clone())
        .score(score_request(None))
        .await
        .expect("a client with a trusted certificate scores");

    // No certificate: the connection is allowed (for health checks), the call is not.
    let anonymous = pki.channel(&server, None).await.expect("TLS connect");
    assert_eq!(health(anonymous.clone()).await, ServingStatus::Serving);
    let status = ScoringServiceClient::new(anonymous.clone())
        .score(score_request(None))
        .await
        .expect_err("no client certificate");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status.message().contains("client certificate"),
        "{status:?}"
    );
    let status = payrisk::grpc::proto::v1::admin_service_client::AdminServiceClient::new(anonymous)
        .reload(pb::ReloadRequest {})
        .await
        .expect_err("admin needs a certificate too");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // A certificate from another CA: the handshake fails, nothing is scored.
    // The server's rustls refuses it with a fatal alert (UnknownCA).
    let refusal = match pki.channel(&server, Some(&pki.stranger)).await {
        Err(e) => format!("{e:?}"),
        // TLS 1.3 clients finish their side before the server checks the certificate: the
        // refusal then arrives on the first call.
        Ok(channel) => {
            let status = ScoringServiceClient::new(channel)
                .score(score_request(None))
                .await
                .expect_err("a foreign certificate is refused");
            format!("{status:?}")
        }
    };
    assert!(refusal.contains("UnknownCA"), "{refusal}");

    // The trusted client is unaffected.
    ScoringServiceClient::new(trusted)
        .score(score_request(None))
        .await
        .expect("still scores");
    server.stop().await;
}

#[tokio::test]
async fn with_mutual_tls_and_tokens_a_call_needs_both() {
    const TOKEN: &str = "worklist-builder-5e1d0c77aa42";
    let pki = Pki::new();
    let tokens = pki.path("tokens");
    std::fs::write(&tokens, format!("{TOKEN}\n")).expect("write");
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        tls: Some(pki.config(true)),
        auth_tokens_file: Some(tokens),
        ..default_config()
    })
    .await;
    let trusted = pki.trusted(&server).await;
    let mut client = ScoringServiceClient::new(trusted);
    for token in [None, Some("worklist-builder-5e1d0c77aa43")] {
        let status = client
            .score(score_request(token))
            .await
            .expect_err("a certificate alone is not enough");
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{token:?}: {status:?}"
        );
        assert!(status.message().contains("token"), "{status:?}");
    }
    client
        .score(score_request(Some(TOKEN)))
        .await
        .expect("certificate and token");

    let anonymous = pki.channel(&server, None).await.expect("TLS connect");
    let status = ScoringServiceClient::new(anonymous)
        .score(score_request(Some(TOKEN)))
        .await
        .expect_err("a token alone is not enough");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_server_with_an_unreadable_key_does_not_start() {
    let pki = Pki::new();
    std::fs::write(pki.path("server.key"), "garbage\n").expect("write");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let config = payrisk::grpc::server::ServerConfig {
        tls: Some(pki.config(true)),
        ..default_config()
    };
    let live = config.load().expect("model loads");
    let err = payrisk::grpc::server::run(listener, live, &config, std::future::pending())
        .await
        .expect_err("bad key");
    let text = err.to_string();
    assert!(
        text.contains("TLS") && text.contains("server.key"),
        "{text}"
    );
}

#[tokio::test]
async fn the_binary_serves_mutual_tls_from_its_flags() {
    use std::time::{Duration, Instant};
    let pki = Pki::new();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_payrisk-server"))
        .current_dir(repo(""))
        .args(["--addr", &addr.to_string(), "--no-metrics"])
        .arg("--tls-cert")
        .arg(pki.path("server.crt"))
        .arg("--tls-key")
        .arg(pki.path("server.key"))
        .arg("--tls-client-ca")
        .arg(pki.path("client-ca.crt"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start payrisk-server");
    let deadline = Instant::now() + Duration::from_secs(20);
    let channel = loop {
        if let Ok(channel) = pki.channel_to(addr, Some(&pki.client)).await {
            break channel;
        }
        assert!(Instant::now() < deadline, "the TLS server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let scored = ScoringServiceClient::new(channel)
        .score(score_request(None))
        .await;
    let anonymous = match pki.channel_to(addr, None).await {
        Ok(channel) => ScoringServiceClient::new(channel)
            .score(score_request(None))
            .await
            .map(|_| ()),
        Err(e) => Err(tonic::Status::unknown(e.to_string())),
    };
    let _ = child.kill();
    let _ = child.wait();
    scored.expect("a trusted client scores over mutual TLS");
    let status = anonymous.expect_err("no client certificate");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
}

#[test]
fn a_client_ca_without_a_server_certificate_is_refused_at_start() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_payrisk-server"))
        .current_dir(repo(""))
        .args(["--tls-client-ca", "clients.crt", "--no-metrics"])
        .output()
        .expect("run payrisk-server");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--tls-client-ca needs TLS"), "{stderr}");
}
