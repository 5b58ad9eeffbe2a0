//! The hub's own HTTPS (`serve --tls-cert FILE --tls-key FILE`): rustls with ring, the
//! certificate and key read from PEM files, and read again on SIGHUP — a renewed
//! certificate is taken without a restart and without dropping a connection or a
//! long-poll (new handshakes get the new one). A reload that fails keeps the certificate
//! in use and says why.

use std::path::{Path, PathBuf};
use std::sync::Once;

use axum_server::tls_rustls::RustlsConfig;

/// The certificate chain and private key files of `serve --tls-cert --tls-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM: the hub's certificate, then its intermediates.
    pub cert: PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why the hub's certificate could not be used.
#[derive(Debug, thiserror::Error)]
#[error("TLS certificate {cert} with key {key}: {why}")]
pub struct TlsError {
    cert: String,
    key: String,
    why: String,
}

/// ring as the process's rustls provider, once (the hub links no other).
fn provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Another part of the process may have installed ring first: either is the same.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn error(files: &TlsFiles, why: impl std::fmt::Display) -> TlsError {
    TlsError { cert: files.cert.display().to_string(), key: files.key.display().to_string(), why: why.to_string() }
}

/// Checks the files before the server starts: both readable PEM, a certificate and a key
/// that rustls takes.
pub async fn load(files: &TlsFiles) -> Result<RustlsConfig, TlsError> {
    provider();
    for path in [&files.cert, &files.key] {
        check_readable(path).map_err(|why| error(files, why))?;
    }
    RustlsConfig::from_pem_file(&files.cert, &files.key).await.map_err(|e| error(files, e))
}

fn check_readable(path: &Path) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !text.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(format!("{} is not a PEM file (no -----BEGIN line)", path.display()));
    }
    Ok(())
}

/// Reads the files again into `config` at every SIGHUP, until the process ends.
pub fn reload_on_hangup(config: RustlsConfig, files: TlsFiles) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("SIGHUP cannot be caught here: the TLS certificate is read at start only");
            return;
        };
        while hangup.recv().await.is_some() {
            match config.reload_from_pem_file(&files.cert, &files.key).await {
                Ok(()) => tracing::info!(cert = %files.cert.display(), "TLS certificate read again (SIGHUP)"),
                Err(e) => tracing::warn!(error = %error(&files, e), "TLS certificate not reloaded: the one in use stays"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_or_unreadable_certificate_is_named_before_serving() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("hub.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let missing = TlsFiles { cert: dir.path().join("none.pem"), key: junk.clone() };
        let e = load(&missing).await.unwrap_err().to_string();
        assert!(e.contains("none.pem") && e.contains("cannot read"), "{e}");
        let not_pem = TlsFiles { cert: junk.clone(), key: junk };
        let e = load(&not_pem).await.unwrap_err().to_string();
        assert!(e.contains("is not a PEM file"), "{e}");
    }
}
