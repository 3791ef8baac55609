//! A mesh CA and workload certificates with SPIFFE URI SANs, as istiod would issue them.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};

/// A workload identity: `spiffe://cluster.local/ns/<namespace>/sa/<service_account>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub namespace: String,
    pub service_account: String,
}

impl Identity {
    pub fn new(namespace: &str, service_account: &str) -> Self {
        Identity {
            namespace: namespace.into(),
            service_account: service_account.into(),
        }
    }

    pub fn spiffe_id(&self) -> String {
        format!(
            "spiffe://cluster.local/ns/{}/sa/{}",
            self.namespace, self.service_account
        )
    }
}

/// PEM files of one workload's certificate and key.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The mesh's root CA.
pub struct MeshCa {
    cert: rcgen::Certificate,
    key: KeyPair,
    pub ca_file: PathBuf,
}

impl MeshCa {
    pub fn new(dir: &Path) -> Self {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "cluster.local");
        params
            .distinguished_name
            .push(DnType::CommonName, "meshka test mesh CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("generate the CA key");
        let cert = params.self_signed(&key).expect("self-sign the CA");
        let ca_file = dir.join("root-cert.pem");
        std::fs::write(&ca_file, cert.pem()).expect("write the CA certificate");
        MeshCa { cert, key, ca_file }
    }

    /// Issues a workload certificate (client and server auth) for `id`, like istiod's.
    pub fn issue(&self, dir: &Path, id: &Identity) -> CertFiles {
        let mut params = CertificateParams::default();
        params.subject_alt_names = vec![SanType::URI(
            id.spiffe_id()
                .try_into()
                .expect("a SPIFFE ID is a valid URI"),
        )];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().expect("generate a workload key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("sign a workload cert");
        let stem = format!("{}.{}", id.namespace, id.service_account);
        let files = CertFiles {
            cert: dir.join(format!("{stem}.pem")),
            key: dir.join(format!("{stem}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).expect("write a workload certificate");
        std::fs::write(&files.key, key.serialize_pem()).expect("write a workload key");
        files
    }
}
