//! Certificate checks for TLS between devices that have no certificate authority in common.
//!
//! Every Ferry (and LocalSend) device presents a self-signed certificate, so the usual chain
//! check to a trusted root does not apply. What still matters, and what these verifiers keep:
//!
//! * **Possession of the key.** The handshake signature (TLS 1.3 CertificateVerify, TLS 1.2
//!   ServerKeyExchange) is checked against the certificate's public key by rustls' own
//!   `verify_tls12_signature` / `verify_tls13_signature`. A verifier that answered "valid" there
//!   would let anyone who has merely *seen* a certificate present it.
//! * **Who it is.** The certificate's [`Fingerprint`] (SHA-256 of its SubjectPublicKeyInfo) is
//!   the peer's identity. A pinned fingerprint ([`PeerCertVerifier::pinned`]) makes a different
//!   key fail *during* the handshake, before a byte of application data is exchanged; otherwise
//!   the caller reads the fingerprint from the finished connection ([`peer_fingerprint`]) and
//!   hands it to the trust store. LocalSend names a device by the SHA-256 of its whole
//!   certificate instead, so a pin can also be on that ([`Pin::Certificate`],
//!   [`PeerCertVerifier::pinned_certificate`]).
//! * **No names.** There is no host name to check (and Ferry sends no SNI): a device is its key.
//!
//! [`crypto_provider`] is rustls' *ring* provider with AES-128-GCM first (measured ~5 % faster
//! than rustls' default order, AES-256-GCM first), then AES-256-GCM, then ChaCha20-Poly1305.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, ring};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

use super::Fingerprint;

/// The crypto every Ferry TLS connection uses: *ring*, with the cipher suites in Ferry's order of
/// preference (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305; TLS 1.3 suites before TLS 1.2 ones).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    use ring::cipher_suite::*;
    let mut provider = ring::default_provider();
    provider.cipher_suites = vec![
        TLS13_AES_128_GCM_SHA256,
        TLS13_AES_256_GCM_SHA384,
        TLS13_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    Arc::new(provider)
}

/// The fingerprint of the certificate the other side presented on a finished handshake, if any.
pub fn peer_fingerprint(conn: &rustls::CommonState) -> Option<Fingerprint> {
    conn.peer_certificates()?.first().and_then(|c| Fingerprint::of_certificate(c))
}

/// What a pinned verifier insists on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pin {
    /// This key, whatever certificate wraps it: SHA-256 of the SubjectPublicKeyInfo, how Ferry
    /// names devices.
    Key(Fingerprint),
    /// Exactly this certificate: SHA-256 of its DER, how LocalSend names devices (its
    /// announcements carry that hash).
    Certificate([u8; 32]),
}

/// Checks a peer's self-signed certificate: it must parse, its handshake signature must verify,
/// and, when pinned, it must be the expected key or certificate. Used as the client's server
/// verifier and the server's client verifier.
#[derive(Debug)]
pub struct PeerCertVerifier {
    algorithms: WebPkiSupportedAlgorithms,
    /// Refuse every certificate but this one (or this key's).
    pin: Option<Pin>,
    /// Server side: refuse a client that presents no certificate.
    client_cert_mandatory: bool,
}

impl PeerCertVerifier {
    /// Accepts any key (the caller decides about the fingerprint afterwards); a server using it
    /// requires a client certificate.
    pub fn any() -> PeerCertVerifier {
        PeerCertVerifier {
            algorithms: crypto_provider().signature_verification_algorithms,
            pin: None,
            client_cert_mandatory: true,
        }
    }

    /// Accepts only the key with this fingerprint; any other fails the handshake.
    pub fn pinned(fingerprint: Fingerprint) -> PeerCertVerifier {
        PeerCertVerifier { pin: Some(Pin::Key(fingerprint)), ..PeerCertVerifier::any() }
    }

    /// Accepts only the certificate whose DER has this SHA-256 (a LocalSend fingerprint); any
    /// other, even one around the same key, fails the handshake.
    pub fn pinned_certificate(sha256: [u8; 32]) -> PeerCertVerifier {
        PeerCertVerifier { pin: Some(Pin::Certificate(sha256)), ..PeerCertVerifier::any() }
    }

    /// As a server's client verifier: asks for a certificate but lets a client without one in
    /// (LocalSend phones may have none). A certificate that *is* presented is checked as usual.
    pub fn client_cert_optional(mut self) -> PeerCertVerifier {
        self.client_cert_mandatory = false;
        self
    }

    fn check(&self, end_entity: &CertificateDer<'_>) -> Result<(), Error> {
        let fingerprint = Fingerprint::of_certificate(end_entity)
            .ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let matches = match self.pin {
            None => true,
            Some(Pin::Key(pin)) => pin == fingerprint,
            Some(Pin::Certificate(pin)) => {
                use sha2::{Digest, Sha256};
                <[u8; 32]>::from(Sha256::digest(end_entity.as_ref())) == pin
            }
        };
        if matches {
            Ok(())
        } else {
            Err(Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
        }
    }
}

impl ServerCertVerifier for PeerCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.check(end_entity)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for PeerCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.client_cert_mandatory
    }

    /// No certificate authorities to name: any self-signed certificate is welcome.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.check(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection, StreamOwned};

    use super::*;
    use crate::identity::DeviceIdentity;

    fn key(id: &DeviceIdentity) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_der().to_vec()))
    }

    fn cert(id: &DeviceIdentity) -> Vec<CertificateDer<'static>> {
        vec![CertificateDer::from(id.cert_der().to_vec())]
    }

    fn server_config(id: &DeviceIdentity, verifier: PeerCertVerifier) -> Arc<ServerConfig> {
        let config = ServerConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(cert(id), key(id))
            .unwrap();
        Arc::new(config)
    }

    fn client_config(id: Option<&DeviceIdentity>, verifier: PeerCertVerifier) -> Arc<ClientConfig> {
        let builder = ClientConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let mut config = match id {
            Some(id) => builder.with_client_auth_cert(cert(id), key(id)).unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.enable_sni = false;
        Arc::new(config)
    }

    /// One handshake over loopback and a byte each way. Returns what each side saw of the other
    /// (fingerprint, or the error), the client first.
    fn handshake(
        server: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
    ) -> (Result<Option<Fingerprint>, String>, Result<Option<Fingerprint>, String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server_side = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            tcp.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
            let mut tls = StreamOwned::new(ServerConnection::new(server).unwrap(), tcp);
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).map_err(|e| e.to_string())?;
            tls.write_all(&byte).map_err(|e| e.to_string())?;
            tls.flush().map_err(|e| e.to_string())?;
            Ok(peer_fingerprint(&tls.conn))
        });
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let name = ServerName::try_from("ferry.invalid").unwrap();
        let mut tls = StreamOwned::new(ClientConnection::new(client, name).unwrap(), tcp);
        let client_side = (|| {
            tls.write_all(b"x").map_err(|e| e.to_string())?;
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).map_err(|e| e.to_string())?;
            Ok(peer_fingerprint(&tls.conn))
        })();
        drop(tls);
        (client_side, server_side.join().unwrap())
    }

    #[test]
    fn both_sides_learn_each_others_key() {
        let (a, b) = (DeviceIdentity::generate().unwrap(), DeviceIdentity::generate().unwrap());
        let (client, server) = handshake(
            server_config(&b, PeerCertVerifier::any()),
            client_config(Some(&a), PeerCertVerifier::any()),
        );
        assert_eq!(client, Ok(Some(b.fingerprint())));
        assert_eq!(server, Ok(Some(a.fingerprint())));
    }

    #[test]
    fn a_pinned_key_that_differs_fails_during_the_handshake() {
        let (a, b, expected) = (
            DeviceIdentity::generate().unwrap(),
            DeviceIdentity::generate().unwrap(),
            DeviceIdentity::generate().unwrap(),
        );
        let (client, server) = handshake(
            server_config(&b, PeerCertVerifier::any()),
            client_config(Some(&a), PeerCertVerifier::pinned(expected.fingerprint())),
        );
        let client = client.unwrap_err();
        assert!(client.contains("ApplicationVerificationFailure"), "{client}");
        // The server never got the byte: the handshake failed before any data.
        assert!(server.is_err(), "{server:?}");

        let (client, _) = handshake(
            server_config(&b, PeerCertVerifier::any()),
            client_config(Some(&a), PeerCertVerifier::pinned(b.fingerprint())),
        );
        assert_eq!(client, Ok(Some(b.fingerprint())));
    }

    /// A second certificate around `id`'s key (another serial number): the same key, a
    /// different certificate, so a different LocalSend fingerprint.
    fn recertified(id: &DeviceIdentity) -> Vec<CertificateDer<'static>> {
        let key = rcgen::KeyPair::try_from(id.key_der()).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.serial_number = Some(rcgen::SerialNumber::from(vec![7, 7, 7]));
        vec![CertificateDer::from(params.self_signed(&key).unwrap().der().to_vec())]
    }

    #[test]
    fn a_certificate_pin_takes_that_certificate_only_even_around_the_same_key() {
        use sha2::{Digest, Sha256};
        let (a, b) = (DeviceIdentity::generate().unwrap(), DeviceIdentity::generate().unwrap());
        let pin = <[u8; 32]>::from(Sha256::digest(b.cert_der()));
        let (client, _) = handshake(
            server_config(&b, PeerCertVerifier::any()),
            client_config(Some(&a), PeerCertVerifier::pinned_certificate(pin)),
        );
        assert_eq!(client, Ok(Some(b.fingerprint())));

        let other_cert = ServerConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(Arc::new(PeerCertVerifier::any()))
            .with_single_cert(recertified(&b), key(&b))
            .unwrap();
        let (client, server) = handshake(
            Arc::new(other_cert.clone()),
            client_config(Some(&a), PeerCertVerifier::pinned_certificate(pin)),
        );
        let client = client.unwrap_err();
        assert!(client.contains("ApplicationVerificationFailure"), "{client}");
        assert!(server.is_err(), "{server:?}");
        // The key pin does not tell the two certificates apart.
        let (client, _) = handshake(
            Arc::new(other_cert),
            client_config(Some(&a), PeerCertVerifier::pinned(b.fingerprint())),
        );
        assert_eq!(client, Ok(Some(b.fingerprint())));
    }

    #[test]
    fn a_client_without_a_certificate_is_refused_unless_that_is_allowed() {
        let b = DeviceIdentity::generate().unwrap();
        let (client, server) = handshake(
            server_config(&b, PeerCertVerifier::any()),
            client_config(None, PeerCertVerifier::any()),
        );
        assert!(client.is_err() && server.is_err(), "{client:?} {server:?}");

        let (client, server) = handshake(
            server_config(&b, PeerCertVerifier::any().client_cert_optional()),
            client_config(None, PeerCertVerifier::any()),
        );
        assert_eq!(client, Ok(Some(b.fingerprint())));
        assert_eq!(server, Ok(None));
    }

    /// Presents one device's certificate but signs the handshake with another device's key:
    /// what someone who copied a certificate (from a capture, a datagram) would do.
    #[derive(Debug)]
    struct CopiedCertificate(Arc<rustls::sign::CertifiedKey>);

    impl rustls::server::ResolvesServerCert for CopiedCertificate {
        fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
            Some(self.0.clone())
        }
    }

    /// The handshake signature is really checked: a server showing a certificate whose key it
    /// does not hold is refused during the handshake.
    #[test]
    fn a_copied_certificate_without_its_key_is_refused() {
        let (victim, thief, client) = (
            DeviceIdentity::generate().unwrap(),
            DeviceIdentity::generate().unwrap(),
            DeviceIdentity::generate().unwrap(),
        );
        let signer = crypto_provider().key_provider.load_private_key(key(&thief)).unwrap();
        let copied = rustls::sign::CertifiedKey::new(cert(&victim), signer);
        let server = ServerConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(Arc::new(PeerCertVerifier::any()))
            .with_cert_resolver(Arc::new(CopiedCertificate(Arc::new(copied))));
        for verifier in [PeerCertVerifier::any(), PeerCertVerifier::pinned(victim.fingerprint())] {
            let (client, server) =
                handshake(Arc::new(server.clone()), client_config(Some(&client), verifier));
            let client = client.unwrap_err();
            assert!(client.contains("BadSignature") || client.contains("signature"), "{client}");
            assert!(server.is_err(), "{server:?}");
        }
    }

    #[test]
    fn aes_128_gcm_is_preferred() {
        let provider = crypto_provider();
        assert_eq!(provider.cipher_suites[0].suite(), rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
        assert_eq!(provider.cipher_suites[1].suite(), rustls::CipherSuite::TLS13_AES_256_GCM_SHA384);
        assert_eq!(provider.cipher_suites[2].suite(), rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
    }
}
