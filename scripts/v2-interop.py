#!/usr/bin/env python3
"""A second implementation of Ferry protocol version 2, written from PROTOCOL.md alone: the TLS
1.3 handshake with both certificates, the HELLOs (with the fingerprint checked against the
certificate TLS proved), the verification exchange and the code, and then (with a FILE, or
`receive`) a whole one-file batch: offer, answer, the file with its BLAKE3, results, summary.

    v2-interop.py client HOST PORT CERT KEY [FILE]   sender side, Python's standard ssl module only
    v2-interop.py server PORT CERT KEY [receive]     receiver side, pyOpenSSL (the standard library
                                                     cannot accept an unknown self-signed client
                                                     certificate)

Each prints a line `code NNN NNN peer FINGERPRINT suite NAME` once the code is known, then (with a
batch) `sent NAME results R…` / `received NAME SIZE BLAKE3HEX`, and exits 0, or prints why not and
exits 1. `server` prints `listening PORT` first (PORT 0 picks a free one). FILE must be at most
1024 bytes (this BLAKE3 does a single chunk). tests/v2_interop.rs runs both against the engine.
"""

import hashlib
import os
import socket
import ssl
import struct
import sys

ALPN = "ferry/2"
HELLO, ERROR, VERIFY_COMMIT, VERIFY_NONCE, VERIFY_REVEAL = 0x01, 0x0E, 0x0F, 0x10, 0x11
OFFER, OFFER_FILE, ANSWER, FILE_BEGIN, DATA, FILE_END = 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
FILE_RESULT, DONE, SUMMARY, KEEPALIVE = 0x09, 0x0A, 0x0B, 0x0D
MAX_CONTROL = 65536
MAX_DATA = 1 + 1024 * 1024


# --- §12: fingerprints ------------------------------------------------------------------------

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


# --- §4, §5 and §14: frames ----------------------------------------------

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
                if length == 0 or length > (MAX_DATA if ftype == DATA else MAX_CONTROL):
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
    while got == KEEPALIVE and ftype not in (HELLO, VERIFY_COMMIT, VERIFY_NONCE, VERIFY_REVEAL):
        got, payload = frames.next()
    if got == ERROR:
        raise RuntimeError(f"the other side sent ERROR {payload[0]}: {payload[3:].decode(errors='replace')}")
    if got != ftype:
        raise RuntimeError(f"expected {what}, got frame type {got:#04x}")
    return payload


# --- §15: the verification code -----------------------------------------------------

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


# --- §5 and §8: the batch's frames, and BLAKE3 ------------------------------------------------

IV = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19]
PERMUTATION = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8]


def _compress(cv, block, block_len, flags):
    m = list(struct.unpack("<16I", block))
    v = cv[:] + IV[:4] + [0, 0, block_len, flags]
    rot = lambda x, n: ((x >> n) | (x << (32 - n))) & 0xFFFFFFFF  # noqa: E731

    def g(a, b, c, d, x, y):
        v[a] = (v[a] + v[b] + x) & 0xFFFFFFFF
        v[d] = rot(v[d] ^ v[a], 16)
        v[c] = (v[c] + v[d]) & 0xFFFFFFFF
        v[b] = rot(v[b] ^ v[c], 12)
        v[a] = (v[a] + v[b] + y) & 0xFFFFFFFF
        v[d] = rot(v[d] ^ v[a], 8)
        v[c] = (v[c] + v[d]) & 0xFFFFFFFF
        v[b] = rot(v[b] ^ v[c], 7)

    for r in range(7):
        g(0, 4, 8, 12, m[0], m[1]); g(1, 5, 9, 13, m[2], m[3])  # noqa: E702
        g(2, 6, 10, 14, m[4], m[5]); g(3, 7, 11, 15, m[6], m[7])  # noqa: E702
        g(0, 5, 10, 15, m[8], m[9]); g(1, 6, 11, 12, m[10], m[11])  # noqa: E702
        g(2, 7, 8, 13, m[12], m[13]); g(3, 4, 9, 14, m[14], m[15])  # noqa: E702
        if r < 6:
            m = [m[i] for i in PERMUTATION]
    return [v[i] ^ v[i + 8] for i in range(8)]


def blake3(data):
    """BLAKE3-256 of at most one chunk (1024 bytes): enough for this peer's small files."""
    if len(data) > 1024:
        raise ValueError("this BLAKE3 does one chunk only (1024 bytes)")
    blocks = [data[i:i + 64] for i in range(0, len(data), 64)] or [b""]
    cv = IV[:]
    for n, block in enumerate(blocks):
        flags = (1 if n == 0 else 0) | (2 | 8 if n == len(blocks) - 1 else 0)  # CHUNK_START, END, ROOT
        cv = _compress(cv, block.ljust(64, b"\0"), len(block), flags)
    return struct.pack("<8I", *cv)


assert blake3(b"").hex() == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


def str16(text):
    b = text.encode()
    return struct.pack(">H", len(b)) + b


def send_batch(sendall, frames, path, opening):
    """OFFER + OFFER_FILE after `opening` (the REVEAL) in one write; then the file if accepted."""
    data = open(path, "rb").read()
    name = os.path.basename(path)
    sendall(opening + frame(OFFER, struct.pack(">IQ", 1, len(data)))
            + frame(OFFER_FILE, str16(name) + struct.pack(">QH", len(data), 0)))
    answer = expect(frames, ANSWER, "ANSWER")
    if answer[0] != 0:
        raise RuntimeError(f"the receiver answered kind {answer[0]}")
    sendall(frame(FILE_BEGIN, struct.pack(">IQ", 0, len(data))) + frame(DATA, data)
            + frame(FILE_END, struct.pack(">I", 0) + blake3(data)) + frame(DONE, b""))
    results = []
    while True:
        got, payload = frames.next()
        if got == FILE_RESULT:
            continue
        if got == SUMMARY:
            count = struct.unpack(">I", payload[:4])[0]
            results = list(payload[4:4 + count])
            break
        if got != KEEPALIVE:
            raise RuntimeError(f"expected SUMMARY, got frame type {got:#04x}")
    print(f"sent {name} results {' '.join(map(str, results))}", flush=True)


def receive_batch(sendall, frames):
    """The OFFER of one file, ANSWER AcceptAll, the file checked against its BLAKE3, SUMMARY."""
    count, total = struct.unpack(">IQ", expect(frames, OFFER, "OFFER"))
    if count != 1:
        raise RuntimeError(f"this peer takes one file, not {count}")
    payload = expect(frames, OFFER_FILE, "OFFER_FILE")
    n = struct.unpack(">H", payload[:2])[0]
    name = payload[2:2 + n].decode()
    size = struct.unpack(">Q", payload[2 + n:10 + n])[0]
    if size != total:
        raise RuntimeError("the offer's total is not its file's size")
    sendall(frame(ANSWER, b"\x00"))
    index, begun = struct.unpack(">IQ", expect(frames, FILE_BEGIN, "FILE_BEGIN"))
    data = b""
    while True:
        got, payload = frames.next()
        if got == DATA:
            data += payload
        elif got == FILE_END:
            break
        elif got != KEEPALIVE:
            raise RuntimeError(f"expected DATA or FILE_END, got {got:#04x}")
    good = index == 0 and begun == size == len(data) and payload[4:] == blake3(data)
    result = 0 if good else 2  # Saved, HashMismatch
    sendall(frame(FILE_RESULT, struct.pack(">IB", 0, result)))
    expect(frames, DONE, "DONE")
    sendall(frame(SUMMARY, struct.pack(">I", 1) + bytes([result])))
    if not good:
        raise RuntimeError("the file did not match its BLAKE3")
    print(f"received {name} {len(data)} {blake3(data).hex()}", flush=True)


# --- the two sides -------------------------------------------------------------------------------

def run_sender(host, port, cert, key, path=None):
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
    print(f"code {code(fp_s, fp_r, nonce_s, nonce_r)} peer {fp_r.hex()} suite {tls.cipher()[0]}", flush=True)
    reveal = frame(VERIFY_REVEAL, nonce_s)
    if path is None:
        tls.sendall(reveal)
    else:
        tls.settimeout(30)  # a person (or the test) decides
        send_batch(tls.sendall, frames, path, reveal)
    tls.unwrap()  # close_notify
    raw.close()


def run_receiver(port, cert, key, batch=None):
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
    if batch == "receive":
        receive_batch(conn.sendall, frames)
    conn.shutdown()  # close_notify
    raw.close()


def main(argv):
    try:
        if argv[1:2] == ["client"] and len(argv) in (6, 7):
            run_sender(*argv[2:])
        elif argv[1:2] == ["server"] and len(argv) in (5, 6):
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
