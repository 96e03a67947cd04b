//! TLS for LocalSend, on Ferry's device certificate and Ferry's certificate checks
//! ([`crate::identity::verify`]).
//!
//! * **Server:** TLS 1.3 and 1.2 (older phones), Ferry's certificate, a client certificate asked
//!   for but not required. When one is presented it must pass the same checks as everywhere
//!   (parses, handshake signature verified) and its SHA-256 — never the `fingerprint` a JSON body
//!   claims — names the sender.
//! * **Client:** presents Ferry's certificate (LocalSend 1.18 servers require one) and pins the
//!   server's certificate to the fingerprint the device announced, so a different device at that
//!   address fails during the handshake, before any file name or byte leaves.
//!
//! A LocalSend fingerprint is the SHA-256 of the certificate's DER in upper-case hex
//! ([`Sha256Fingerprint`]).

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, ServerConfig};
use sha2::{Digest, Sha256};

use crate::identity::DeviceIdentity;
use crate::identity::verify::{PeerCertVerifier, crypto_provider};

/// SHA-256 of a certificate's DER: how LocalSend names a device.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Fingerprint(pub [u8; 32]);

impl Sha256Fingerprint {
    pub fn of_certificate(der: &[u8]) -> Sha256Fingerprint {
        Sha256Fingerprint(Sha256::digest(der).into())
    }

    /// 64 hex digits, either case (LocalSend writes upper case). Anything else is `None`: over
    /// plain HTTP the "fingerprint" is a random string and pins nothing.
    pub fn from_hex(s: &str) -> Option<Sha256Fingerprint> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Sha256Fingerprint(out))
    }

    /// 64 upper-case hex digits, as LocalSend shows and announces it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }
}

impl fmt::Debug for Sha256Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Fingerprint({})", self.to_hex())
    }
}

impl fmt::Display for Sha256Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

fn chain(id: &DeviceIdentity) -> Vec<CertificateDer<'static>> {
    vec![CertificateDer::from(id.cert_der().to_vec())]
}

fn key(id: &DeviceIdentity) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_der().to_vec()))
}

/// The server side: our certificate, client certificates optional but checked.
pub fn server_config(id: &DeviceIdentity) -> Result<Arc<ServerConfig>, rustls::Error> {
    let config = ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&TLS13, &TLS12])?
        .with_client_cert_verifier(Arc::new(PeerCertVerifier::any().client_cert_optional()))
        .with_single_cert(chain(id), key(id))?;
    Ok(Arc::new(config))
}

/// The client side: our certificate as client certificate; the server's pinned to `expect` (its
/// announced fingerprint), or any when it is not known yet.
pub fn client_config(
    id: &DeviceIdentity,
    expect: Option<Sha256Fingerprint>,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let verifier = match expect {
        Some(fp) => PeerCertVerifier::pinned_certificate(fp.0),
        None => PeerCertVerifier::any(),
    };
    let mut config = ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&TLS13, &TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(chain(id), key(id))?;
    // Devices are addressed by IP and named by their certificate: no host name to send.
    config.enable_sni = false;
    // HTTP/1.1 only (LocalSend does the same: HTTP/2 flow control caps bulk uploads).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The fingerprint of the certificate the other side presented, if any.
pub fn peer_certificate(conn: &rustls::CommonState) -> Option<Sha256Fingerprint> {
    conn.peer_certificates()?.first().map(|c| Sha256Fingerprint::of_certificate(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_upper_case_hex_of_the_whole_certificate() {
        let id = DeviceIdentity::generate().unwrap();
        let fp = Sha256Fingerprint::of_certificate(id.cert_der());
        assert_eq!(fp.to_hex(), id.localsend_fingerprint());
        assert_eq!(Sha256Fingerprint::from_hex(&fp.to_hex()), Some(fp));
        assert_eq!(Sha256Fingerprint::from_hex(&fp.to_hex().to_lowercase()), Some(fp));
        assert_eq!(Sha256Fingerprint::from_hex("random string"), None);
        assert_eq!(Sha256Fingerprint::from_hex(&"é".repeat(32)), None);
    }

    #[test]
    fn both_configs_build_from_a_device_identity() {
        let id = DeviceIdentity::generate().unwrap();
        assert!(server_config(&id).is_ok());
        assert!(client_config(&id, None).is_ok());
        assert!(client_config(&id, Some(Sha256Fingerprint([1; 32]))).is_ok());
    }
}
