//! The verification code two people compare when their devices meet for the first time.
//!
//! TLS proves which key each side holds, but not that the key on the other end is the one on
//! the desk across the room: a machine in the middle could run one TLS connection to each side.
//! So when either side has not seen the other's key before, both screens show a 6-digit code
//! derived from both keys and two fresh nonces. A machine in the middle has two different pairs
//! of keys on its two connections, so the two codes differ unless it finds nonces that make
//! them agree — and the commitment stops it from trying:
//!
//! ```text
//! S→R VERIFY_COMMIT  knows_you, commitment = SHA-256("ferry-sas-commit" ‖ nonce_s)
//! R→S VERIFY_NONCE   knows_you, nonce_r
//! S→R VERIFY_REVEAL  nonce_s            R checks the commitment
//! code = first 8 bytes of SHA-256("ferry-sas" ‖ fp_s ‖ fp_r ‖ nonce_s ‖ nonce_r),
//!        as a big-endian integer, mod 1 000 000, shown as "482 193"
//! ```
//!
//! The sender is bound to `nonce_s` before it sees `nonce_r`, and the receiver picks `nonce_r`
//! before it sees `nonce_s`: neither end, nor anyone between them, can steer the code. A
//! machine in the middle that completes one side first knows that side's code, but must commit
//! to the other side's nonce before learning the nonce that fixes the second code: one chance in
//! a million per attempt, and each attempt is a prompt a person sees.
//!
//! Each side says whether it already knows the other's key (`knows_you`); both show the code
//! when either says no. A side that does not know the key it sees shows the code whatever the
//! other side says, so a lying `knows_you` can add a code to a screen but never remove one.
//!
//! Fingerprints here are the 32-byte SHA-256 of each side's SubjectPublicKeyInfo as the TLS
//! handshake proved it (see `crate::identity::Fingerprint`), never the bytes a HELLO claims.

use std::fmt;

use sha2::{Digest, Sha256};

use super::{Hello, Message};

/// Bytes in each nonce.
pub const NONCE_LEN: usize = 32;
/// Domain label of the commitment.
pub const COMMIT_LABEL: &[u8] = b"ferry-sas-commit";
/// Domain label of the code.
pub const CODE_LABEL: &[u8] = b"ferry-sas";

/// A fresh random nonce.
pub fn random_nonce() -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    getrandom::fill(&mut n).expect("the operating system's random source failed");
    n
}

/// SHA-256("ferry-sas-commit" ‖ nonce_s).
pub fn commitment(nonce_s: &[u8; NONCE_LEN]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(COMMIT_LABEL);
    h.update(nonce_s);
    h.finalize().into()
}

/// The six digits both screens show.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize)]
#[serde(into = "String")]
pub struct VerificationCode(u32);

impl VerificationCode {
    /// The code for these fingerprints (sender's first) and nonces.
    pub fn derive(
        fp_sender: &[u8; 32],
        fp_receiver: &[u8; 32],
        nonce_s: &[u8; NONCE_LEN],
        nonce_r: &[u8; NONCE_LEN],
    ) -> VerificationCode {
        let mut h = Sha256::new();
        h.update(CODE_LABEL);
        h.update(fp_sender);
        h.update(fp_receiver);
        h.update(nonce_s);
        h.update(nonce_r);
        let digest: [u8; 32] = h.finalize().into();
        let head = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        VerificationCode((head % 1_000_000) as u32)
    }

    /// The number, 0..=999 999.
    pub fn value(self) -> u32 {
        self.0
    }

    /// Six digits without the space (`482193`), for `--json`.
    pub fn digits(self) -> String {
        format!("{:06}", self.0)
    }
}

/// `482 193`: two groups of three, so that a person can hold it while looking across.
impl fmt::Display for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03} {:03}", self.0 / 1000, self.0 % 1000)
    }
}

impl From<VerificationCode> for String {
    fn from(c: VerificationCode) -> String {
        c.digits()
    }
}

/// What the exchange ends with, on either side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    pub code: VerificationCode,
    /// Show the code: this side does not know the other's key, or the other said it does not
    /// know ours. Both sides compute the same answer from the same two flags.
    pub show: bool,
    /// The other side said it already knew this device's key.
    pub peer_knows_us: bool,
}

/// Why the exchange was refused. Either way no code is shown and the connection ends (with
/// ERROR Protocol).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SasError {
    /// The revealed nonce is not the one committed to.
    #[error("the verification exchange did not check out (the revealed nonce does not match its commitment)")]
    CommitmentMismatch,
    /// A VERIFY frame where none was due (a second REVEAL, a REVEAL before the NONCE, ...), or
    /// another frame where a VERIFY frame was due.
    #[error("{0}")]
    OutOfOrder(&'static str),
}

/// Checks a version-2 HELLO against the connection it came on: version 2 or later, and a
/// fingerprint field of exactly the 32 bytes of the key the TLS handshake proved. Either side
/// answers a failure with ERROR (UnsupportedVersion / Protocol) and closes.
pub fn check_hello(hello: &Hello, proven: &[u8; 32]) -> Result<(), HelloError> {
    if hello.version < 2 {
        return Err(HelloError::OldVersion(hello.version));
    }
    if hello.fingerprint.as_slice() != proven.as_slice() {
        return Err(HelloError::NotTheProvenKey);
    }
    Ok(())
}

/// Why a HELLO inside TLS was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    #[error("HELLO says protocol version {0} inside TLS; version 2 or later is needed")]
    OldVersion(u16),
    #[error("the HELLO's fingerprint is not the key this connection proved")]
    NotTheProvenKey,
}

/// The sending side (the one that connected).
#[derive(Debug)]
pub struct SenderSas {
    fp_sender: [u8; 32],
    fp_receiver: [u8; 32],
    knows_receiver: bool,
    nonce_s: [u8; NONCE_LEN],
    done: bool,
}

impl SenderSas {
    /// Starts the exchange: the VERIFY_COMMIT to send right after HELLO.
    pub fn start(
        fp_sender: [u8; 32],
        fp_receiver: [u8; 32],
        knows_receiver: bool,
        nonce_s: [u8; NONCE_LEN],
    ) -> (SenderSas, Message) {
        let commit = Message::VerifyCommit { knows_you: knows_receiver, commitment: commitment(&nonce_s) };
        (SenderSas { fp_sender, fp_receiver, knows_receiver, nonce_s, done: false }, commit)
    }

    /// Handles the receiver's answer: VERIFY_NONCE gives the VERIFY_REVEAL to send and the code.
    /// Anything else, or a second NONCE, is refused.
    pub fn on_message(&mut self, msg: &Message) -> Result<(Message, Verified), SasError> {
        match msg {
            Message::VerifyNonce { knows_you, nonce } if !self.done => {
                self.done = true;
                let code = VerificationCode::derive(&self.fp_sender, &self.fp_receiver, &self.nonce_s, nonce);
                let verified =
                    Verified { code, show: !self.knows_receiver || !knows_you, peer_knows_us: *knows_you };
                Ok((Message::VerifyReveal { nonce: self.nonce_s }, verified))
            }
            Message::VerifyNonce { .. } => Err(SasError::OutOfOrder("a second VERIFY_NONCE")),
            _ => Err(SasError::OutOfOrder("expected VERIFY_NONCE")),
        }
    }
}

/// The receiving side (the one that accepted).
#[derive(Debug)]
pub struct ReceiverSas {
    fp_sender: [u8; 32],
    fp_receiver: [u8; 32],
    knows_sender: bool,
    nonce_r: [u8; NONCE_LEN],
    state: ReceiverState,
}

#[derive(Debug)]
enum ReceiverState {
    WaitCommit,
    WaitReveal { commitment: [u8; 32], sender_knows_us: bool },
    Done,
}

/// What the receiver does after a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiverStep {
    /// Send this (VERIFY_NONCE) and wait for the REVEAL.
    Reply(Message),
    /// The exchange is complete.
    Verified(Verified),
}

impl ReceiverSas {
    pub fn new(
        fp_sender: [u8; 32],
        fp_receiver: [u8; 32],
        knows_sender: bool,
        nonce_r: [u8; NONCE_LEN],
    ) -> ReceiverSas {
        ReceiverSas { fp_sender, fp_receiver, knows_sender, nonce_r, state: ReceiverState::WaitCommit }
    }

    /// Handles the next frame from the sender: COMMIT, then REVEAL. A REVEAL whose nonce does not
    /// match the commitment, or any frame out of its turn (a REVEAL first, a second COMMIT, a
    /// second REVEAL), is refused, and the code is never computed.
    pub fn on_message(&mut self, msg: &Message) -> Result<ReceiverStep, SasError> {
        match (&self.state, msg) {
            (ReceiverState::WaitCommit, Message::VerifyCommit { knows_you, commitment }) => {
                self.state =
                    ReceiverState::WaitReveal { commitment: *commitment, sender_knows_us: *knows_you };
                Ok(ReceiverStep::Reply(Message::VerifyNonce {
                    knows_you: self.knows_sender,
                    nonce: self.nonce_r,
                }))
            }
            (
                ReceiverState::WaitReveal { commitment: c, sender_knows_us },
                Message::VerifyReveal { nonce },
            ) => {
                let sender_knows_us = *sender_knows_us;
                if commitment(nonce) != *c {
                    self.state = ReceiverState::Done;
                    return Err(SasError::CommitmentMismatch);
                }
                self.state = ReceiverState::Done;
                let code = VerificationCode::derive(&self.fp_sender, &self.fp_receiver, nonce, &self.nonce_r);
                Ok(ReceiverStep::Verified(Verified {
                    code,
                    show: !self.knows_sender || !sender_knows_us,
                    peer_knows_us: sender_knows_us,
                }))
            }
            (ReceiverState::WaitCommit, _) => Err(SasError::OutOfOrder("expected VERIFY_COMMIT")),
            (ReceiverState::WaitReveal { .. }, _) => Err(SasError::OutOfOrder("expected VERIFY_REVEAL")),
            (ReceiverState::Done, _) => {
                Err(SasError::OutOfOrder("the verification exchange is already over"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(b: u8) -> [u8; 32] {
        [b; 32]
    }

    /// One whole exchange; returns what each side ended with.
    fn exchange(knows_r: bool, knows_s: bool) -> (Verified, Verified) {
        let (mut s, commit) = SenderSas::start(fp(1), fp(2), knows_r, [0x11; 32]);
        let mut r = ReceiverSas::new(fp(1), fp(2), knows_s, [0x22; 32]);
        let ReceiverStep::Reply(nonce) = r.on_message(&commit).unwrap() else { panic!() };
        let (reveal, at_sender) = s.on_message(&nonce).unwrap();
        let ReceiverStep::Verified(at_receiver) = r.on_message(&reveal).unwrap() else { panic!() };
        (at_sender, at_receiver)
    }

    #[test]
    fn both_sides_get_the_same_code_and_agree_on_showing_it() {
        for (knows_r, knows_s, show) in
            [(true, true, false), (false, true, true), (true, false, true), (false, false, true)]
        {
            let (s, r) = exchange(knows_r, knows_s);
            assert_eq!(s.code, r.code);
            assert_eq!((s.show, r.show), (show, show), "knows_r {knows_r} knows_s {knows_s}");
            assert_eq!(s.peer_knows_us, knows_s);
            assert_eq!(r.peer_knows_us, knows_r);
        }
    }

    /// The vector PROTOCOL.md prints (tests/protocol_v2_vectors.rs checks the text).
    #[test]
    fn the_code_matches_its_vector() {
        let fp_s: [u8; 32] = std::array::from_fn(|i| i as u8);
        let fp_r: [u8; 32] = std::array::from_fn(|i| 0x20 + i as u8);
        let code = VerificationCode::derive(&fp_s, &fp_r, &[0xaa; 32], &[0xbb; 32]);
        // SHA-256("ferry-sas" ‖ 00..1f ‖ 20..3f ‖ aa×32 ‖ bb×32) starts 0x…; mod 10^6:
        let mut h = Sha256::new();
        h.update(b"ferry-sas");
        h.update(fp_s);
        h.update(fp_r);
        h.update([0xaa; 32]);
        h.update([0xbb; 32]);
        let d: [u8; 32] = h.finalize().into();
        assert_eq!(code.value() as u64, u64::from_be_bytes(d[..8].try_into().unwrap()) % 1_000_000);
        assert_eq!(code.to_string().len(), 7);
        assert_eq!(code.to_string().replace(' ', ""), code.digits());
    }

    #[test]
    fn codes_print_as_two_groups_of_three() {
        assert_eq!(VerificationCode(482_193).to_string(), "482 193");
        assert_eq!(VerificationCode(7).to_string(), "000 007");
        assert_eq!(VerificationCode(7).digits(), "000007");
        assert_eq!(serde_json::to_string(&VerificationCode(42)).unwrap(), "\"000042\"");
    }

    #[test]
    fn the_code_depends_on_every_input() {
        let base = VerificationCode::derive(&fp(1), &fp(2), &[3; 32], &[4; 32]);
        assert_ne!(base, VerificationCode::derive(&fp(9), &fp(2), &[3; 32], &[4; 32]));
        assert_ne!(base, VerificationCode::derive(&fp(1), &fp(9), &[3; 32], &[4; 32]));
        assert_ne!(base, VerificationCode::derive(&fp(1), &fp(2), &[9; 32], &[4; 32]));
        assert_ne!(base, VerificationCode::derive(&fp(1), &fp(2), &[3; 32], &[9; 32]));
        // The order of the keys matters: S and R cannot be swapped.
        assert_ne!(base, VerificationCode::derive(&fp(2), &fp(1), &[3; 32], &[4; 32]));
    }

    #[test]
    fn a_reveal_that_does_not_match_its_commitment_is_refused() {
        let (_, commit) = SenderSas::start(fp(1), fp(2), false, [0x11; 32]);
        let mut r = ReceiverSas::new(fp(1), fp(2), false, [0x22; 32]);
        r.on_message(&commit).unwrap();
        let forged = Message::VerifyReveal { nonce: [0x12; 32] };
        assert_eq!(r.on_message(&forged), Err(SasError::CommitmentMismatch));
        // And nothing after it is accepted, not even the right nonce.
        let right = Message::VerifyReveal { nonce: [0x11; 32] };
        assert!(matches!(r.on_message(&right), Err(SasError::OutOfOrder(_))));
    }

    #[test]
    fn replayed_and_out_of_turn_frames_are_refused() {
        let (mut s, commit) = SenderSas::start(fp(1), fp(2), false, [0x11; 32]);
        let reveal = Message::VerifyReveal { nonce: [0x11; 32] };

        // A REVEAL before any COMMIT (say, replayed from an earlier connection).
        let mut r = ReceiverSas::new(fp(1), fp(2), false, [0x22; 32]);
        assert!(matches!(r.on_message(&reveal), Err(SasError::OutOfOrder(_))));

        let mut r = ReceiverSas::new(fp(1), fp(2), false, [0x22; 32]);
        let ReceiverStep::Reply(nonce) = r.on_message(&commit).unwrap() else { panic!() };
        // A second COMMIT while the REVEAL is due.
        assert!(matches!(r.on_message(&commit), Err(SasError::OutOfOrder(_))));
        let (reveal, _) = s.on_message(&nonce).unwrap();
        assert!(matches!(r.on_message(&reveal), Ok(ReceiverStep::Verified(_))));
        // The same REVEAL again: refused.
        assert!(matches!(r.on_message(&reveal), Err(SasError::OutOfOrder(_))));
        // The sender takes one NONCE only, and nothing else.
        assert!(matches!(s.on_message(&nonce), Err(SasError::OutOfOrder(_))));
        let (mut s2, _) = SenderSas::start(fp(1), fp(2), false, [0x33; 32]);
        assert!(matches!(s2.on_message(&Message::Keepalive), Err(SasError::OutOfOrder(_))));
    }

    #[test]
    fn a_reveal_from_another_exchange_does_not_match() {
        // The REVEAL of an earlier exchange, played into a new one with a fresh commitment.
        let (_, old_commit) = SenderSas::start(fp(1), fp(2), false, [0x44; 32]);
        let mut old_r = ReceiverSas::new(fp(1), fp(2), false, [0x55; 32]);
        old_r.on_message(&old_commit).unwrap();
        let old_reveal = Message::VerifyReveal { nonce: [0x44; 32] };

        let (_, new_commit) = SenderSas::start(fp(1), fp(2), false, random_nonce());
        let mut r = ReceiverSas::new(fp(1), fp(2), false, random_nonce());
        r.on_message(&new_commit).unwrap();
        assert_eq!(r.on_message(&old_reveal), Err(SasError::CommitmentMismatch));
    }

    #[test]
    fn a_hello_must_carry_the_proven_key_and_version_2() {
        let hello = |version: u16, fingerprint: Vec<u8>| Hello {
            version,
            purpose: super::super::HelloPurpose::Transfer,
            instance: super::super::InstanceId([1; 16]),
            transfer_port: 53531,
            os: super::super::Os::Linux,
            name: "A".into(),
            fingerprint,
        };
        let proven = fp(7);
        assert_eq!(check_hello(&hello(2, proven.to_vec()), &proven), Ok(()));
        assert_eq!(check_hello(&hello(3, proven.to_vec()), &proven), Ok(()));
        assert_eq!(check_hello(&hello(2, fp(8).to_vec()), &proven), Err(HelloError::NotTheProvenKey));
        assert_eq!(check_hello(&hello(2, proven[..31].to_vec()), &proven), Err(HelloError::NotTheProvenKey));
        assert_eq!(check_hello(&hello(2, Vec::new()), &proven), Err(HelloError::NotTheProvenKey));
        let mut longer = proven.to_vec();
        longer.push(0);
        assert_eq!(check_hello(&hello(2, longer), &proven), Err(HelloError::NotTheProvenKey));
        assert_eq!(check_hello(&hello(1, proven.to_vec()), &proven), Err(HelloError::OldVersion(1)));
    }

    #[test]
    fn nonces_are_fresh() {
        assert_ne!(random_nonce(), random_nonce());
    }
}
