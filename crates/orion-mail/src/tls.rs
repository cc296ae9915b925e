//! TLS for the mail clients (IMAP here, SMTP through lettre): the system's trusted roots plus,
//! optionally, a PEM file of extra ones (an internal CA, or a test server's own certificate).

use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::{self, RootCertStore};

/// The extra trusted certificates of a PEM file, as DER.
pub fn read_pem_certs(path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut bytes.as_slice()).collect();
    let certs = certs.map_err(|e| format!("CA file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("CA file {} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// A client configuration trusting the system's roots and those in `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let extra = match ca_file {
        Some(path) => read_pem_certs(path)?,
        None => Vec::new(),
    };
    client_config_with(extra)
}

/// A client configuration trusting the system's roots and the certificates of `pem` (PEM text,
/// as an admin pastes it into a form).
pub fn client_config_pem(pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut extra = Vec::new();
    if let Some(text) = pem.filter(|p| !p.trim().is_empty()) {
        let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut text.as_bytes()).collect();
        extra = certs.map_err(|e| format!("CA certificate: {e}"))?;
        if extra.is_empty() {
            return Err("the CA certificate holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
        }
    }
    client_config_with(extra)
}

fn client_config_with(
    extra: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system certificate rustls cannot use is skipped, as every TLS client does.
        let _ = roots.add(cert);
    }
    for cert in extra {
        roots.add(cert).map_err(|e| format!("CA certificate: {e}"))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
