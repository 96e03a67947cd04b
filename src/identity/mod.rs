//! This device's key and certificate, and the fingerprints that name devices.
//!
//! A Ferry device *is* its key: an ECDSA P-256 key pair made on first start, with a self-signed
//! certificate around its public key, both kept in the config folder (`identity.key`, mode 0600,
//! and `identity.crt`, PEM). The TLS handshake proves that the other side holds the private key
//! of the certificate it shows, so its [`Fingerprint`] — SHA-256 of the certificate's
//! SubjectPublicKeyInfo — names it, never a device name or an address.
//!
//! LocalSend names devices differently: SHA-256 of the whole certificate (DER), in upper-case hex
//! ([`DeviceIdentity::localsend_fingerprint`]). That is why the certificate is stored and not
//! made anew at every start: the same key in a new certificate would be a new LocalSend device.
//!
//! [`verify`] holds the certificate checks both ends of a TLS connection make (self-signed
//! certificates, handshake signatures always verified, optional pinning) and the cipher order.
//!
//! A missing, unreadable or corrupt identity is replaced by a new one with a warning; it is never
//! a crash. Replacing it makes this device new to everyone who knew it ([`DeviceIdentity::reset`]).

pub mod known;
pub mod verify;

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};

/// File names inside the config folder.
const KEY_FILE: &str = "identity.key";
const CERT_FILE: &str = "identity.crt";

/// SHA-256 of a certificate's SubjectPublicKeyInfo: the name of a device's key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of the key inside `cert` (DER). `None` when it is not a certificate.
    pub fn of_certificate(cert: &[u8]) -> Option<Fingerprint> {
        let der = CertificateDer::from(cert);
        let parsed = rustls::server::ParsedCertificate::try_from(&der).ok()?;
        Some(Fingerprint::of_spki(parsed.subject_public_key_info().as_ref()))
    }

    /// SHA-256 of a DER SubjectPublicKeyInfo.
    pub fn of_spki(spki: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(spki).into())
    }

    /// 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// 64 hex digits (either case, spaces, colons and dashes ignored).
    pub fn from_hex(s: &str) -> Option<Fingerprint> {
        let digits: Vec<u8> = s.bytes().filter(|b| !matches!(b, b' ' | b':' | b'-')).collect();
        if digits.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        Some(Fingerprint(out))
    }

    /// What people compare: the first 8 bytes as four groups of four upper-case hex digits,
    /// `A1B2 C3D4 E5F6 0718`.
    pub fn short(&self) -> String {
        let h = hex(&self.0[..8]).to_uppercase();
        format!("{} {} {} {}", &h[0..4], &h[4..8], &h[8..12], &h[12..16])
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Fingerprint::from_hex(&s).ok_or_else(|| serde::de::Error::custom("not 64 hex digits"))
    }
}

/// This device's key pair and certificate.
#[derive(Clone)]
pub struct DeviceIdentity {
    /// PKCS#8 DER of the private key.
    key_der: Vec<u8>,
    /// The self-signed certificate, DER.
    cert_der: Vec<u8>,
    fingerprint: Fingerprint,
}

impl fmt::Debug for DeviceIdentity {
    /// Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceIdentity").field("fingerprint", &self.fingerprint).finish_non_exhaustive()
    }
}

/// The identity as loaded, and what the person should be told about loading it.
pub struct LoadedIdentity {
    pub identity: DeviceIdentity,
    pub warning: Option<IdentityWarning>,
}

/// What went wrong with this device's key, as data: `Display` is the English sentence (the CLI
/// prints it), and the window says each kind in its own language. Every one of them means that
/// other devices will see this one as new.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityWarning {
    /// The key stored in `dir` could not be used (`why`: unreadable, corrupt, a certificate of
    /// another key), so a new one was made and the old files kept as `*.bad`. `save_failed`:
    /// saving the new one failed too.
    Replaced { dir: PathBuf, why: String, save_failed: Option<String> },
    /// There was no key yet; the new one could not be saved in `dir`.
    NotSaved { dir: PathBuf, detail: String },
    /// No key could be loaded or made in the config folder at all: one made for this run only
    /// is used (`Settings::engine_config`).
    ThisRunOnly { detail: String },
}

impl fmt::Display for IdentityWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityWarning::Replaced { dir, why, save_failed } => {
                write!(
                    f,
                    "This device's key in {} could not be used ({why}), so Ferry made a new one. Devices \
                     that knew this one will see it as new.",
                    dir.display()
                )?;
                match save_failed {
                    Some(e) => write!(f, " Saving the new key failed too: {e}"),
                    None => Ok(()),
                }
            }
            IdentityWarning::NotSaved { dir, detail } => write!(
                f,
                "Ferry could not save this device's key in {} ({detail}); it will be a new device at every start.",
                dir.display()
            ),
            IdentityWarning::ThisRunOnly { detail } => write!(
                f,
                "This device's key could not be saved ({detail}); other devices will see it as new after a restart."
            ),
        }
    }
}

impl DeviceIdentity {
    /// A new key pair and certificate, not stored anywhere (tests, and [`Self::load_or_create`]).
    pub fn generate() -> io::Result<DeviceIdentity> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(other)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(other)?;
        // No device name in the certificate: it travels before the other side is known.
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, "Ferry device");
        // The certificate is only a wrapper around the key: no expiry worth the name.
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(9999, 12, 31);
        let cert = params.self_signed(&key).map_err(other)?;
        DeviceIdentity::from_parts(key.serialize_der(), cert.der().to_vec())
    }

    /// Checks that `cert_der` is a certificate of the key in `key_der` (PKCS#8).
    fn from_parts(key_der: Vec<u8>, cert_der: Vec<u8>) -> io::Result<DeviceIdentity> {
        let key = rcgen::KeyPair::try_from(key_der.as_slice()).map_err(other)?;
        let fingerprint = Fingerprint::of_certificate(&cert_der)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "the certificate does not parse"))?;
        use rcgen::PublicKeyData;
        if Fingerprint::of_spki(&key.subject_public_key_info()) != fingerprint {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the certificate is not for this key"));
        }
        Ok(DeviceIdentity { key_der, cert_der, fingerprint })
    }

    /// Loads the identity from `dir`, or makes and stores a new one when there is none. A file
    /// that cannot be read or does not make sense is replaced (kept aside as `*.bad`), with a
    /// warning. Only a failure to make a key at all is an error.
    pub fn load_or_create(dir: &Path) -> io::Result<LoadedIdentity> {
        let (key_path, cert_path) = (dir.join(KEY_FILE), dir.join(CERT_FILE));
        let problem = match (std::fs::read_to_string(&key_path), std::fs::read_to_string(&cert_path)) {
            (Ok(key), Ok(cert)) => match Self::from_pem(&key, &cert) {
                Ok(identity) => return Ok(LoadedIdentity { identity, warning: None }),
                Err(e) => Some(e.to_string()),
            },
            (Err(k), Err(c))
                if k.kind() == io::ErrorKind::NotFound && c.kind() == io::ErrorKind::NotFound =>
            {
                None
            }
            (Err(e), _) | (_, Err(e)) => Some(e.to_string()),
        };
        if problem.is_some() {
            for path in [&key_path, &cert_path] {
                let _ = std::fs::rename(path, aside(path));
            }
        }
        let identity = Self::generate()?;
        let saved = identity.save_to(dir);
        let dir = dir.to_path_buf();
        let warning = match (problem, saved) {
            (Some(why), saved) => {
                Some(IdentityWarning::Replaced { dir, why, save_failed: saved.err().map(|e| e.to_string()) })
            }
            (None, Err(e)) => Some(IdentityWarning::NotSaved { dir, detail: e.to_string() }),
            (None, Ok(())) => None,
        };
        Ok(LoadedIdentity { identity, warning })
    }

    /// Replaces the stored identity with a new one: this device becomes new to everyone.
    pub fn reset(dir: &Path) -> io::Result<DeviceIdentity> {
        let identity = Self::generate()?;
        identity.save_to(dir)?;
        Ok(identity)
    }

    fn from_pem(key_pem: &str, cert_pem: &str) -> io::Result<DeviceIdentity> {
        let key = rcgen::KeyPair::from_pem(key_pem).map_err(other)?;
        let cert = pem_block(cert_pem, "CERTIFICATE")?;
        Self::from_parts(key.serialize_der(), cert)
    }

    /// Writes both files, each atomically (a temporary file renamed over the old one); the key
    /// file is readable by its owner only.
    fn save_to(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let key = rcgen::KeyPair::try_from(self.key_der.as_slice()).map_err(other)?;
        write_private(&dir.join(KEY_FILE), key.serialize_pem().as_bytes())?;
        let cert = pem_encode("CERTIFICATE", &self.cert_der);
        write_private(&dir.join(CERT_FILE), cert.as_bytes())
    }

    /// The private key, PKCS#8 DER.
    pub fn key_der(&self) -> &[u8] {
        &self.key_der
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// SHA-256 of the certificate's SubjectPublicKeyInfo.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// How LocalSend names this device: SHA-256 of the certificate DER, 64 upper-case hex digits.
    pub fn localsend_fingerprint(&self) -> String {
        hex(&Sha256::digest(&self.cert_der)).to_uppercase()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn other(e: impl fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

fn aside(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bad");
    path.with_file_name(name)
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

fn pem_block(text: &str, label: &str) -> io::Result<Vec<u8>> {
    let block = pem::parse(text).map_err(other)?;
    if block.tag() != label {
        return Err(other(format!("expected a {label}, found a {}", block.tag())));
    }
    Ok(block.into_contents())
}

/// Writes `bytes` to `path` through a temporary file that only the owner may read (Unix mode
/// 0600; elsewhere the config folder's own permissions apply).
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_makes_an_identity_and_later_starts_load_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = DeviceIdentity::load_or_create(dir.path()).unwrap();
        assert!(first.warning.is_none(), "{:?}", first.warning);
        let second = DeviceIdentity::load_or_create(dir.path()).unwrap();
        assert!(second.warning.is_none());
        assert_eq!(first.identity.fingerprint(), second.identity.fingerprint());
        assert_eq!(first.identity.cert_der(), second.identity.cert_der());
        assert_eq!(first.identity.localsend_fingerprint(), second.identity.localsend_fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_corrupt_or_half_missing_identity_is_replaced_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let old = DeviceIdentity::load_or_create(dir.path()).unwrap().identity;
        std::fs::write(dir.path().join(KEY_FILE), "-----BEGIN PRIVATE KEY-----\nnonsense\n").unwrap();
        let new = DeviceIdentity::load_or_create(dir.path()).unwrap();
        assert!(new.warning.as_ref().unwrap().to_string().contains("made a new one"), "{:?}", new.warning);
        assert_ne!(new.identity.fingerprint(), old.fingerprint());
        assert!(dir.path().join("identity.key.bad").exists());

        // A certificate of another key next to this key is refused too.
        let stranger = DeviceIdentity::generate().unwrap();
        std::fs::write(dir.path().join(CERT_FILE), pem_encode("CERTIFICATE", stranger.cert_der())).unwrap();
        let again = DeviceIdentity::load_or_create(dir.path()).unwrap();
        assert!(
            again.warning.as_ref().unwrap().to_string().contains("not for this key"),
            "{:?}",
            again.warning
        );

        std::fs::remove_file(dir.path().join(CERT_FILE)).unwrap();
        let missing_cert = DeviceIdentity::load_or_create(dir.path()).unwrap();
        assert!(missing_cert.warning.is_some());
    }

    #[test]
    fn reset_makes_a_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        let old = DeviceIdentity::load_or_create(dir.path()).unwrap().identity;
        let new = DeviceIdentity::reset(dir.path()).unwrap();
        assert_ne!(old.fingerprint(), new.fingerprint());
        assert_eq!(
            DeviceIdentity::load_or_create(dir.path()).unwrap().identity.fingerprint(),
            new.fingerprint()
        );
    }

    #[test]
    fn fingerprints_read_and_print() {
        let id = DeviceIdentity::generate().unwrap();
        let fp = id.fingerprint();
        assert_eq!(Fingerprint::of_certificate(id.cert_der()), Some(fp));
        assert_eq!(Fingerprint::from_hex(&fp.to_hex()), Some(fp));
        assert_eq!(Fingerprint::from_hex(&fp.to_hex().to_uppercase()), Some(fp));
        assert_eq!(Fingerprint::from_hex("abc"), None);
        let short = fp.short();
        assert_eq!(short.len(), 19);
        assert_eq!(short.replace(' ', ""), fp.to_hex()[..16].to_uppercase());
        assert_eq!(id.localsend_fingerprint().len(), 64);
        assert!(id.localsend_fingerprint().bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        assert_eq!(Fingerprint::of_certificate(b"not a certificate"), None);
    }
}
