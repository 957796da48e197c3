//! TLS and mutual TLS on the gRPC port (rustls, through tonic), from PEM files.
//!
//! - `cert` and `key`: the server's certificate chain and private key. With them the port
//!   speaks only TLS (HTTP/2 over TLS, ALPN `h2`).
//! - `client_ca`: CA certificates for mutual TLS. A client that presents a certificate must
//!   present one that chains to them, or the handshake fails. A client may connect without one,
//!   so that load balancers can reach health checks, but then every scoring and admin call is
//!   refused with `UNAUTHENTICATED` ([`crate::grpc::layers::auth`] checks). Bearer tokens, when configured,
//!   are needed on top of the certificate.
//!
//! Everything is read and checked when the server starts: a missing file, a file without the
//! expected PEM block or a key that rustls refuses stops the start with an error naming the
//! file. Certificates are not reloaded: rotating them takes a restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::error::LoadError;

/// How long a client may take over the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server's TLS material lives (`[tls]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server's certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates (PEM) that client certificates must chain to; set, scoring and admin
    /// calls need a client certificate (mutual TLS).
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

impl TlsConfig {
    /// Whether calls need a client certificate.
    pub fn mutual(&self) -> bool {
        self.client_ca.is_some()
    }

    /// Reads the files and builds tonic's settings; see the module docs for what is checked.
    pub fn server_config(&self) -> Result<ServerTlsConfig, LoadError> {
        let cert = read_pem(&self.cert, "CERTIFICATE")?;
        let key = read_pem(&self.key, "PRIVATE KEY")?;
        let mut config = ServerTlsConfig::new()
            .identity(Identity::from_pem(cert, key))
            .timeout(HANDSHAKE_TIMEOUT);
        if let Some(ca) = &self.client_ca {
            let ca = read_pem(ca, "CERTIFICATE")?;
            config = config
                .client_ca_root(Certificate::from_pem(ca))
                .client_auth_optional(true);
        }
        // tonic parses the PEM and builds the rustls configuration only here: do it now, so
        // that a bad key or chain fails the start with the files named.
        tonic::transport::Server::builder()
            .tls_config(config.clone())
            .map_err(|e| LoadError::Invalid {
                origin: self.describe(),
                message: format!("TLS configuration refused: {}", source_chain(&e)),
            })?;
        Ok(config)
    }

    fn describe(&self) -> String {
        match &self.client_ca {
            Some(ca) => format!(
                "{} + {} + {}",
                self.cert.display(),
                self.key.display(),
                ca.display()
            ),
            None => format!("{} + {}", self.cert.display(), self.key.display()),
        }
    }
}

/// Reads a PEM file that must hold at least one block whose label ends with `label`
/// (`PRIVATE KEY` matches `RSA PRIVATE KEY` and `EC PRIVATE KEY` too).
fn read_pem(path: &Path, label: &str) -> Result<String, LoadError> {
    let text = LoadError::read(path)?;
    let found = text.lines().any(|line| {
        line.trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .is_some_and(|l| l.ends_with(label))
    });
    if found {
        Ok(text)
    } else {
        Err(LoadError::Invalid {
            origin: path.display().to_string(),
            message: format!("no PEM \"{label}\" block"),
        })
    }
}

fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_without_the_expected_pem_block_are_named_in_the_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("server.crt");
        let key = dir.path().join("server.key");
        std::fs::write(&cert, "not a certificate\n").expect("write");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .expect("write");
        let config = TlsConfig {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: None,
        };
        let err = config
            .server_config()
            .expect_err("no certificate")
            .to_string();
        assert!(
            err.contains("server.crt") && err.contains("CERTIFICATE"),
            "{err}"
        );

        let missing = TlsConfig {
            cert: dir.path().join("absent.crt"),
            key,
            client_ca: None,
        };
        let err = missing.server_config().expect_err("absent").to_string();
        assert!(err.contains("absent.crt"), "{err}");
    }

    #[test]
    fn a_garbled_key_is_refused_at_load_with_the_files_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key_pair = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key_pair)
            .expect("cert");
        let (cert_path, key_path) = (dir.path().join("s.crt"), dir.path().join("s.key"));
        std::fs::write(&cert_path, cert.pem()).expect("write");
        std::fs::write(
            &key_path,
            "-----BEGIN PRIVATE KEY-----\nAAAAAAAA\n-----END PRIVATE KEY-----\n",
        )
        .expect("write");
        let config = TlsConfig {
            cert: cert_path,
            key: key_path.clone(),
            client_ca: None,
        };
        let err = config.server_config().expect_err("garbled key").to_string();
        assert!(err.contains("s.key") && err.contains("TLS"), "{err}");

        std::fs::write(&key_path, key_pair.serialize_pem()).expect("write");
        config.server_config().expect("a real pair loads");
    }
}
