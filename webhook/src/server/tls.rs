//! TLS: the serving certificate from PEM files (reloaded when they change, as cert-manager
//! rotates them) or self-provisioned (a CA and a serving certificate made at startup, the way
//! istiod provisions its own webhook certificate).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::metrics::Metrics;
use crate::Error;

fn tls_err(message: impl Into<String>) -> Error {
    Error::Tls {
        message: message.into(),
    }
}

/// Builds a rustls certified key from a PEM certificate chain and a PEM private key, checking
/// that the key belongs to the certificate.
pub fn certified_key_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, Error> {
    let chain = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(format!("the certificate file is not PEM ({e})")))?;
    if chain.is_empty() {
        return Err(tls_err("the certificate file holds no CERTIFICATE block"));
    }
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| tls_err(format!("the key file is not PEM ({e})")))?
        .ok_or_else(|| tls_err("the key file holds no PRIVATE KEY block"))?;
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| tls_err(format!("unsupported private key ({e})")))?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|e| {
        tls_err(format!(
            "the private key does not match the certificate ({e})"
        ))
    })?;
    Ok(certified)
}

/// The serving certificate, swappable while the server runs.
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore").finish_non_exhaustive()
    }
}

impl CertStore {
    /// A store serving `key`.
    pub fn new(key: CertifiedKey) -> Arc<CertStore> {
        Arc::new(CertStore {
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Replaces the serving certificate; new handshakes use it.
    pub fn set(&self, key: CertifiedKey) {
        if let Ok(mut guard) = self.current.write() {
            *guard = Arc::new(key);
        }
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|k| Arc::clone(&k))
    }
}

/// A rustls server configuration (TLS 1.2 and 1.3, HTTP/1.1) serving from `store`.
pub fn server_config(store: Arc<CertStore>) -> Result<Arc<ServerConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Certificate and key files, and the store they are loaded into.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// PEM certificate chain (e.g. `tls.crt` of a cert-manager Secret).
    pub cert: PathBuf,
    /// PEM private key (`tls.key`).
    pub key: PathBuf,
}

impl CertFiles {
    fn read(&self) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| Error::Io {
                what: format!("read {}", p.display()),
                source,
            })
        };
        Ok((read(&self.cert)?, read(&self.key)?))
    }

    /// Loads the files once.
    pub fn load(&self) -> Result<CertifiedKey, Error> {
        let (c, k) = self.read()?;
        certified_key_from_pem(&c, &k)
    }

    /// Polls the files every `interval` and swaps the certificate in `store` when their content
    /// changes and is valid; an invalid pair (e.g. half-written) is logged, counted and retried.
    pub async fn watch(self, store: Arc<CertStore>, interval: Duration, metrics: Arc<Metrics>) {
        let mut last = self.read().ok();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let files = match self.read() {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the serving certificate; keeping the current one");
                    continue;
                }
            };
            if last.as_ref() == Some(&files) {
                continue;
            }
            match certified_key_from_pem(&files.0, &files.1) {
                Ok(key) => {
                    store.set(key);
                    metrics.tls_reload(true);
                    tracing::info!(cert = %self.cert.display(), "reloaded the serving certificate");
                    last = Some(files);
                }
                Err(e) => {
                    metrics.tls_reload(false);
                    tracing::warn!(error = %e, "the new serving certificate is unusable; keeping the current one");
                    last = Some(files);
                }
            }
        }
    }
}

/// A CA and a serving certificate signed by it, in PEM.
#[derive(Clone)]
pub struct Provisioned {
    /// The CA certificate: the `caBundle` of the MutatingWebhookConfiguration.
    pub ca_pem: String,
    /// The serving certificate.
    pub cert_pem: String,
    /// The serving certificate's private key.
    pub key_pem: String,
}

impl fmt::Debug for Provisioned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provisioned")
            .field("ca_pem", &self.ca_pem)
            .finish_non_exhaustive()
    }
}

/// The DNS names under which the API server reaches a webhook Service.
pub fn service_dns_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_string(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// Creates a CA (valid 10 years) and a serving certificate for `dns_names` (valid 1 year).
pub fn provision(dns_names: Vec<String>) -> Result<Provisioned, Error> {
    let cert_err = |source| Error::CertGen { source };
    let ca_key = KeyPair::generate().map_err(cert_err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "meshka webhook CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time_now();
    ca_params.not_before = now - rcgen_duration(3600);
    ca_params.not_after = now + rcgen_duration(10 * 365 * 86400);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(cert_err)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate().map_err(cert_err)?;
    let mut params = CertificateParams::new(dns_names.clone()).map_err(cert_err)?;
    params.distinguished_name.push(
        DnType::CommonName,
        dns_names
            .first()
            .cloned()
            .unwrap_or_else(|| "meshka-webhook".into()),
    );
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = now - rcgen_duration(3600);
    params.not_after = now + rcgen_duration(365 * 86400);
    let cert = params.signed_by(&key, &issuer).map_err(cert_err)?;
    Ok(Provisioned {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn rcgen_duration(seconds: i64) -> time::Duration {
    time::Duration::seconds(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioned_pair_loads_and_mismatch_is_caught() {
        let a = provision(service_dns_names("meshka", "meshka-system")).unwrap();
        let b = provision(vec!["other".into()]).unwrap();
        certified_key_from_pem(a.cert_pem.as_bytes(), a.key_pem.as_bytes()).unwrap();
        let err = certified_key_from_pem(a.cert_pem.as_bytes(), b.key_pem.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        assert!(certified_key_from_pem(b"", a.key_pem.as_bytes()).is_err());
        assert!(certified_key_from_pem(a.cert_pem.as_bytes(), b"junk").is_err());
    }
}
