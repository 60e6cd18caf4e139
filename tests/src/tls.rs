//! A certificate authority made at test time, for TLS the way a TLS-intercepting proxy or a
//! registry with a private CA does it: nobody trusts it until told to.
//!
//! [`TestCa::new`] makes a fresh CA (a new key every time, so no two runs share one and no
//! certificate is checked in); [`TestCa::server_config`] a rustls server configuration whose
//! certificate it signed, for the addresses builds reach the harness at ([`HOST_ON_BRIDGE`])
//! and the loopback (the harness's own unit tests). A client trusts it only with
//! [`TestCa::pem`] added to its roots: cargo with `CARGO_HTTP_CAINFO`, a build with
//! `[fetch] ca-bundle` and `--secret id=…,src=<that PEM>`.
//!
//! ring is the crypto provider (rustls' `aws-lc-rs` default needs cmake and NASM to build).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::fixtures;
use crate::registry::HOST_ON_BRIDGE;

/// A CA of the test's own, able to sign server certificates.
pub struct TestCa {
    /// Its certificate, PEM.
    pem: String,
    /// Its certificate, DER (a root for rustls clients).
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new CA whose name carries `label` and a nonce (so its PEM is unique to this run).
    #[track_caller]
    pub fn new(label: &str) -> TestCa {
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("tls: CA key: {e}"));
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(
            DnType::CommonName,
            format!("cachet-tests CA {label} {}", fixtures::nonce()),
        );
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params
            .self_signed(&key)
            .unwrap_or_else(|e| panic!("tls: CA certificate: {e}"));
        TestCa {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate, PEM: what a client must be told to trust.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The CA certificate, DER.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// A rustls server configuration with a new key and a certificate this CA signed, valid
    /// for [`HOST_ON_BRIDGE`], `127.0.0.1` and `localhost`.
    #[track_caller]
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("tls: server key: {e}"));
        let mut params = CertificateParams::new(vec![
            HOST_ON_BRIDGE.to_string(),
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .unwrap_or_else(|e| panic!("tls: server names: {e}"));
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "cachet-tests server");
        params.distinguished_name = name;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let cert = params
            .signed_by(&key, &self.issuer)
            .unwrap_or_else(|e| panic!("tls: server certificate: {e}"));
        let chain = vec![cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .unwrap_or_else(|e| panic!("tls: server configuration: {e}"));
        Arc::new(config)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    /// A rustls client configuration trusting `roots` only.
    pub(crate) fn client_config(roots: &[&CertificateDer<'static>]) -> Arc<rustls::ClientConfig> {
        let mut store = rustls::RootCertStore::empty();
        for root in roots {
            store.add((*root).clone()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
        Arc::new(config)
    }

    /// `request` sent over TLS to `127.0.0.1:port`, trusting `roots`; the whole response, or
    /// the TLS error.
    pub(crate) fn tls_exchange(
        port: u16,
        roots: &[&CertificateDer<'static>],
        request: &str,
    ) -> Result<String, std::io::Error> {
        let server = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(client_config(roots), server).unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(request.as_bytes())?;
        let mut response = String::new();
        tls.read_to_string(&mut response)?;
        Ok(response)
    }

    #[test]
    fn each_ca_is_new_and_a_pem_certificate() {
        let (a, b) = (TestCa::new("unit-a"), TestCa::new("unit-b"));
        assert!(
            a.pem().starts_with("-----BEGIN CERTIFICATE-----\n"),
            "{}",
            a.pem()
        );
        assert!(a.pem().trim_end().ends_with("-----END CERTIFICATE-----"));
        assert_ne!(a.pem(), b.pem());
        assert_ne!(a.der(), b.der());
    }
}
