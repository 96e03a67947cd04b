#!/usr/bin/env python3
"""A second implementation of the opening of a Ferry version-2 connection, written from
docs/protocol-v2.md alone: the TLS 1.3 handshake with both certificates, the HELLOs (with the
fingerprint checked against the certificate TLS proved), the verification exchange and the code.

    v2-interop.py client HOST PORT CERT KEY   sender side, Python's standard ssl module only
    v2-interop.py server PORT CERT KEY        receiver side, pyOpenSSL (the standard library cannot
                                              accept an unknown self-signed client certificate)

Each prints one line `code NNN NNN peer FINGERPRINT suite NAME` and exits 0, or prints why not
and exits 1. `server` prints `listening PORT` first (PORT 0 picks a free one). tests/v2_interop.rs
runs both against Ferry's own implementation.
"""

import hashlib
import os
import socket
import ssl
import struct
import sys

ALPN = "ferry/2"
HELLO, ERROR, VERIFY_COMMIT, VERIFY_NONCE, VERIFY_REVEAL = 0x01, 0x0E, 0x0F, 0x10, 0x11
MAX_CONTROL = 65536


# --- §2: fingerprints ------------------------------------------------------------------------

def der_element(buf, at):
    """(tag, start of content, end of element) of the DER element at `at`."""
    tag, first = buf[at], buf[at + 1]
    if first < 0x80:
        return tag, at + 2, at + 2 + first
    n = first & 0x7F
    length = int.from_bytes(buf[at + 2:at + 2 + n], "big")
    return tag, at + 2 + n, at + 2 + n + length


def spki_of(cert_der):
    """The SubjectPublicKeyInfo of a certificate, DER, header included."""
    _, cert_body, _ = der_element(cert_der, 0)           # Certificate SEQUENCE
    _, tbs_body, tbs_end = der_element(cert_der, cert_body)  # tbsCertificate SEQUENCE
    at = tbs_body
    if cert_der[at] == 0xA0:                              # [0] version, optional
        at = der_element(cert_der, at)[2]
    for _ in range(5):                                    # serial, signature, issuer, validity, subject
        at = der_element(cert_der, at)[2]
    _, _, end = der_element(cert_der, at)
    assert end <= tbs_end
    return cert_der[at:end]


def fingerprint(cert_der):
    return hashlib.sha256(spki_of(cert_der)).digest()


def pem_cert_der(path):
    text = open(path).read()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    import base64
    return base64.b64decode("".join(body.split()))


# --- PROTOCOL.md §4-5 and protocol-v2 §4: frames ----------------------------------------------

def frame(ftype, payload):
    return struct.pack(">IB", 1 + len(payload), ftype) + payload


def hello(fp, purpose=1, name="Python"):
    name = name.encode()
    payload = b"FRRY" + struct.pack(">HB", 2, purpose) + os.urandom(16) + struct.pack(">HB", 0, 0)
    return frame(HELLO, payload + bytes([len(name)]) + name + bytes([len(fp)]) + fp)


class Frames:
    """Reads whole frames from a TLS connection (anything with recv)."""

    def __init__(self, recv):
        self.recv, self.buf = recv, b""

    def next(self):
        while True:
            if len(self.buf) >= 5:
                length, ftype = struct.unpack(">IB", self.buf[:5])
                if length == 0 or length > MAX_CONTROL:
                    raise ValueError(f"bad frame length {length}")
                if len(self.buf) >= 4 + length:
                    payload, self.buf = self.buf[5:4 + length], self.buf[4 + length:]
                    return ftype, payload
            chunk = self.recv(65536)
            if not chunk:
                raise EOFError("the other side closed the connection")
            self.buf += chunk


def parse_hello(payload):
    if payload[:4] != b"FRRY":
        raise ValueError("bad magic")
    version, purpose = struct.unpack(">HB", payload[4:7])
    at = 7 + 16 + 2 + 1
    name_len = payload[at]
    name = payload[at + 1:at + 1 + name_len].decode()
    at += 1 + name_len
    fp_len = payload[at]
    fp = payload[at + 1:at + 1 + fp_len]
    if at + 1 + fp_len != len(payload):
        raise ValueError("trailing bytes in HELLO")
    return version, purpose, name, fp


def expect(frames, ftype, what):
    got, payload = frames.next()
    if got == ERROR:
        raise RuntimeError(f"the other side sent ERROR {payload[0]}: {payload[3:].decode(errors='replace')}")
    if got != ftype:
        raise RuntimeError(f"expected {what}, got frame type {got:#04x}")
    return payload


# --- protocol-v2 §5: the verification code -----------------------------------------------------

def commitment(nonce_s):
    return hashlib.sha256(b"ferry-sas-commit" + nonce_s).digest()


def code(fp_s, fp_r, nonce_s, nonce_r):
    digest = hashlib.sha256(b"ferry-sas" + fp_s + fp_r + nonce_s + nonce_r).digest()
    n = int.from_bytes(digest[:8], "big") % 1_000_000
    return f"{n // 1000:03d} {n % 1000:03d}"


def flag(b):
    if b not in (0, 1):
        raise ValueError("knows_you is neither 0 nor 1")
    return b == 1


# --- the two sides -------------------------------------------------------------------------------

def run_sender(host, port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # no chain to check; the handshake signature still is
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols([ALPN])
    raw = socket.create_connection((host, int(port)), timeout=10)
    tls = ctx.wrap_socket(raw, server_hostname=None)  # no SNI
    if tls.selected_alpn_protocol() != ALPN:
        raise RuntimeError("the receiver did not select ferry/2")
    fp_s = fingerprint(pem_cert_der(cert))
    fp_r = fingerprint(tls.getpeercert(binary_form=True))
    nonce_s = os.urandom(32)
    tls.sendall(hello(fp_s) + frame(VERIFY_COMMIT, b"\x00" + commitment(nonce_s)))
    frames = Frames(tls.recv)
    version, _, name, claimed = parse_hello(expect(frames, HELLO, "HELLO"))
    if version < 2 or claimed != fp_r:
        raise RuntimeError("the receiver's HELLO does not carry the key TLS proved")
    payload = expect(frames, VERIFY_NONCE, "VERIFY_NONCE")
    if len(payload) != 33:
        raise ValueError("VERIFY_NONCE is not 33 bytes")
    flag(payload[0])
    nonce_r = payload[1:]
    tls.sendall(frame(VERIFY_REVEAL, nonce_s))
    print(f"code {code(fp_s, fp_r, nonce_s, nonce_r)} peer {fp_r.hex()} suite {tls.cipher()[0]}", flush=True)
    tls.unwrap()  # close_notify
    raw.close()


def run_receiver(port, cert, key):
    from OpenSSL import SSL
    from cryptography.hazmat.primitives.serialization import Encoding

    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
    ctx.use_certificate_file(cert)
    ctx.use_privatekey_file(key)
    # Ask for the client's certificate and take any: the chain is not the point, the key is
    # (OpenSSL still checks the CertificateVerify signature).
    ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *args: True)
    ctx.set_alpn_select_callback(
        lambda conn, offered: ALPN.encode() if ALPN.encode() in offered else SSL.NO_OVERLAPPING_PROTOCOLS)
    ctx.set_options(SSL.OP_NO_TICKET | SSL.OP_CIPHER_SERVER_PREFERENCE)
    if hasattr(ctx, "set_tls13_ciphersuites"):
        ctx.set_tls13_ciphersuites(b"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256")
    listener = socket.socket()
    listener.bind(("127.0.0.1", int(port)))
    listener.listen(1)
    print(f"listening {listener.getsockname()[1]}", flush=True)
    listener.settimeout(20)
    raw, _ = listener.accept()
    # pyOpenSSL wants a blocking socket (a timeout makes it non-blocking: WantReadError).
    raw.settimeout(None)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 10, 0))
    conn = SSL.Connection(ctx, raw)
    conn.set_accept_state()
    conn.do_handshake()
    if conn.get_alpn_proto_negotiated() != ALPN.encode():
        raise RuntimeError("the sender did not offer ferry/2")
    fp_r = fingerprint(pem_cert_der(cert))
    fp_s = fingerprint(conn.get_peer_certificate().to_cryptography().public_bytes(Encoding.DER))
    frames = Frames(conn.recv)
    version, purpose, name, claimed = parse_hello(expect(frames, HELLO, "HELLO"))
    if version < 2 or claimed != fp_s:
        raise RuntimeError("the sender's HELLO does not carry the key TLS proved")
    payload = expect(frames, VERIFY_COMMIT, "VERIFY_COMMIT")
    if len(payload) != 33:
        raise ValueError("VERIFY_COMMIT is not 33 bytes")
    flag(payload[0])
    committed = payload[1:]
    nonce_r = os.urandom(32)
    conn.sendall(hello(fp_r) + frame(VERIFY_NONCE, b"\x00" + nonce_r))
    nonce_s = expect(frames, VERIFY_REVEAL, "VERIFY_REVEAL")
    if len(nonce_s) != 32 or commitment(nonce_s) != committed:
        conn.sendall(frame(ERROR, b"\x02" + struct.pack(">H", 24) + b"commitment does not match"[:24]))
        raise RuntimeError("the revealed nonce does not match its commitment")
    print(f"code {code(fp_s, fp_r, nonce_s, nonce_r)} peer {fp_s.hex()} suite {conn.get_cipher_name()}",
          flush=True)
    conn.shutdown()  # close_notify
    raw.close()


def main(argv):
    try:
        if argv[1:2] == ["client"] and len(argv) == 6:
            run_sender(*argv[2:])
        elif argv[1:2] == ["server"] and len(argv) == 5:
            run_receiver(*argv[2:])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Exception as e:  # noqa: BLE001 - the test reads this line
        print(f"failed: {type(e).__name__}: {e}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
