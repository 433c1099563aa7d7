#!/usr/bin/env python3
"""Write envseal's format test vectors from docs/FORMAT.md alone.

This is a second implementation of the formats in docs/FORMAT.md (canonical encryption context,
ciphertext blob, sealed values, sealed-file header), written from that page without reading the
Swift sources, so that the Swift implementation can be checked against it. It writes:

    Tests/EnvSealFormatTests/Vectors/context.json
    Tests/EnvSealFormatTests/Vectors/blob.json
    Tests/EnvSealFormatTests/Vectors/sealed-value.json
    Tests/EnvSealFormatTests/Vectors/header.json       (header version 1)
    Tests/EnvSealFormatTests/Vectors/header-v2.json    (header version 2: key slots)
    Tests/EnvSealFormatTests/Vectors/recovery.json     (recovery keys: scripts/recovery_vectors.py)

Usage:
    pip install cryptography        # (ChaCha20 and ChaCha20-Poly1305; BLAKE2b is hashlib's)
    python3 scripts/make-vectors.py           # (re)write the files
    python3 scripts/make-vectors.py --check   # exit 1 if a committed file differs

The output is deterministic: every key, nonce and value is fixed (derived from a label with
BLAKE2b), nothing is random, and re-running the script reproduces the files byte for byte.

Before writing anything the script checks its primitives against published vectors
(draft-irtf-cfrg-xchacha-03: HChaCha20 §2.2.1, AEAD_XChaCha20_Poly1305 §A.3.1). After building the
vectors it runs every one of them through the reference decoders/openers below and checks that
each yields exactly its expected outcome, so a failure vector fails for the stated reason.

libsodium correspondences (all must match byte for byte):
    crypto_kdf_derive_from_key    BLAKE2b-256, key = master, salt = LE64(id) || 0^8,
                                  personal = ctx || 0^8, empty message
    crypto_generichash (keyed)    hashlib.blake2b(key=..., digest_size=n)
    crypto_stream_xchacha20_xor   HChaCha20(key, nonce[0:16]) then DJB ChaCha20 (64-bit counter
                                  from 0, 8-byte nonce = nonce[16:24])
    crypto_aead_xchacha20poly1305_ietf_encrypt
                                  HChaCha20 subkey, then ChaCha20-Poly1305-IETF with the
                                  12-byte nonce 0^4 || nonce[16:24]
    crypto_box_seal               ephemeral X25519 key pair (fixed here, so the output is
                                  deterministic), nonce = BLAKE2b-24(epk || pk), key =
                                  HSalsa20(X25519(esk, pk), 0^16), then XSalsa20-Poly1305
                                  (crypto_secretbox): epk || tag || ciphertext
"""

import argparse
import base64
import hashlib
import json
import os
import struct
import sys
import uuid

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.poly1305 import Poly1305
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.exceptions import InvalidSignature, InvalidTag

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recovery_vectors  # noqa: E402  (section 6: recovery keys)

REPO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
VECTOR_DIR = os.path.join(REPO_ROOT, "Tests", "EnvSealFormatTests", "Vectors")


# --------------------------------------------------------------------------------------------
# Errors (FORMAT.md section 5 outcomes)
# --------------------------------------------------------------------------------------------

class FormatError(Exception):
    def __init__(self, kind, variable=None):
        super().__init__(kind if variable is None else f"{kind} {variable}")
        self.kind = kind
        self.variable = variable


def expect_error(kind, fn, *args, variable=None):
    """Run fn(*args); it must raise FormatError(kind[, variable])."""
    try:
        fn(*args)
    except FormatError as e:
        assert e.kind == kind, f"expected {kind!r}, got {e.kind!r}"
        assert e.variable == variable, f"expected variable {variable!r}, got {e.variable!r}"
        return
    raise AssertionError(f"expected {kind!r}, got success")


# --------------------------------------------------------------------------------------------
# Byte helpers
# --------------------------------------------------------------------------------------------

def u8(n):
    assert 0 <= n <= 0xFF
    return bytes([n])


def u16(n):
    assert 0 <= n <= 0xFFFF
    return struct.pack(">H", n)


def u32(n):
    assert 0 <= n <= 0xFFFFFFFF
    return struct.pack(">I", n)


class Reader:
    """Sequential big-endian reader; running out of bytes is `truncated`."""

    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise FormatError("truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def remaining(self):
        return len(self.data) - self.pos


def fixed(label, n):
    """n deterministic pseudo-random bytes named by label (no randomness anywhere)."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.blake2b(f"envseal test vectors/{label}/{i}".encode(), digest_size=64).digest()
        i += 1
    return out[:n]


def flip(data, index, mask=0x01):
    b = bytearray(data)
    b[index] ^= mask
    return bytes(b)


def is_utf8(b):
    try:
        b.decode("utf-8", errors="strict")
        return True
    except UnicodeDecodeError:
        return False


# --------------------------------------------------------------------------------------------
# base64url, RFC 4648 §5, no padding, canonical only
# --------------------------------------------------------------------------------------------

B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64u_encode(b):
    return base64.urlsafe_b64encode(bytes(b)).decode("ascii").rstrip("=")


def b64u_decode(text):
    if any(ch not in B64URL_ALPHABET for ch in text):
        raise FormatError("invalid base64")  # padding, +, /, whitespace, anything else
    if len(text) % 4 == 1:
        raise FormatError("invalid base64")  # no byte string has this length
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64u_encode(data) != text:
        raise FormatError("invalid base64")  # unused trailing bits not zero
    return data


# --------------------------------------------------------------------------------------------
# Cryptographic primitives (libsodium-compatible)
# --------------------------------------------------------------------------------------------

MASK32 = 0xFFFFFFFF


def _rotl32(v, c):
    return ((v << c) & MASK32) | (v >> (32 - c))


def _quarter_round(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & MASK32; s[d] = _rotl32(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK32; s[b] = _rotl32(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & MASK32; s[d] = _rotl32(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK32; s[b] = _rotl32(s[b] ^ s[c], 7)


def hchacha20(key, nonce16):
    assert len(key) == 32 and len(nonce16) == 16
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    s += list(struct.unpack("<8I", key))
    s += list(struct.unpack("<4I", nonce16))
    for _ in range(10):
        _quarter_round(s, 0, 4, 8, 12)
        _quarter_round(s, 1, 5, 9, 13)
        _quarter_round(s, 2, 6, 10, 14)
        _quarter_round(s, 3, 7, 11, 15)
        _quarter_round(s, 0, 5, 10, 15)
        _quarter_round(s, 1, 6, 11, 12)
        _quarter_round(s, 2, 7, 8, 13)
        _quarter_round(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha20_xor(key, nonce24, data):
    """crypto_stream_xchacha20_xor: counter 0."""
    assert len(key) == 32 and len(nonce24) == 24
    subkey = hchacha20(key, nonce24[:16])
    # cryptography's ChaCha20 takes a 16-byte "nonce": little-endian block counter first, then
    # the nonce words. 8 zero counter bytes || 8-byte nonce is DJB's layout (64-bit counter).
    enc = Cipher(algorithms.ChaCha20(subkey, bytes(8) + nonce24[16:]), mode=None).encryptor()
    return enc.update(bytes(data)) + enc.finalize()


def aead_encrypt(key, nonce24, aad, m):
    """crypto_aead_xchacha20poly1305_ietf_encrypt: ciphertext || 16-byte tag."""
    assert len(key) == 32 and len(nonce24) == 24
    subkey = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(subkey).encrypt(bytes(4) + nonce24[16:], bytes(m), bytes(aad))


def aead_decrypt(key, nonce24, aad, c):
    subkey = hchacha20(key, nonce24[:16])
    try:
        return ChaCha20Poly1305(subkey).decrypt(bytes(4) + nonce24[16:], bytes(c), bytes(aad))
    except InvalidTag:
        raise FormatError("authentication failure")


def kdf(key, subkey_id, ctx):
    """crypto_kdf_derive_from_key with a 32-byte output."""
    assert len(key) == 32 and len(ctx) == 8
    return hashlib.blake2b(b"", digest_size=32, key=key,
                           salt=subkey_id.to_bytes(8, "little") + bytes(8),
                           person=ctx + bytes(8)).digest()


def blake2b_parts(key, n, parts):
    """BLAKE2b-n(key, parts): keyed generichash over u32(len(p)) || p for each part."""
    h = hashlib.blake2b(digest_size=n, key=key)
    for p in parts:
        h.update(u32(len(p)))
        h.update(p)
    return h.digest()


def check_published_vectors():
    # draft-irtf-cfrg-xchacha-03 §2.2.1, HChaCha20
    key = bytes(range(0x00, 0x20))
    nonce = bytes.fromhex("000000090000004a0000000031415927")
    assert hchacha20(key, nonce).hex() == \
        "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc", "HChaCha20 vector"
    # draft-irtf-cfrg-xchacha-03 §A.3.1, AEAD_XChaCha20_Poly1305
    m = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
         b"future, sunscreen would be it.")
    aad = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    key = bytes(range(0x80, 0xA0))
    nonce = bytes(range(0x40, 0x58))
    c = aead_encrypt(key, nonce, aad, m)
    assert len(c) == len(m) + 16
    assert c[-16:].hex() == "c0875924c1c7987947deafd8780acf49", "XChaCha20-Poly1305 vector tag"
    assert aead_decrypt(key, nonce, aad, c) == m
    expect_error("authentication failure", aead_decrypt, key, nonce, aad, flip(c, 0))
    # The stream and the AEAD share HChaCha20 and the ChaCha20 keystream: the AEAD's ciphertext
    # is the message XOR the XChaCha20 keystream from block 1 (block 0 makes the Poly1305 key).
    # crypto_stream_xchacha20_xor starts at block 0, so skip 64 bytes of it to compare.
    ks = xchacha20_xor(key, nonce, bytes(64 + len(m)))[64:]
    assert bytes(a ^ b for a, b in zip(m, ks)) == c[:-16], "XChaCha20 stream / AEAD agree"


# --------------------------------------------------------------------------------------------
# Section 1: canonical encryption context
# --------------------------------------------------------------------------------------------

MAX_CONTEXT_BYTES = 8192


def context_encode(pairs):
    """pairs: list of (str, str). Returns the canonical bytes or raises `invalid context`."""
    items = [(k.encode("utf-8"), v.encode("utf-8")) for k, v in pairs]
    if not items:
        return b""
    items.sort(key=lambda kv: kv[0])  # Python bytes order: byte-wise, shorter first on a prefix
    for i, (k, v) in enumerate(items):
        if len(k) == 0:
            raise FormatError("invalid context")
        if i > 0 and items[i - 1][0] == k:
            raise FormatError("invalid context")
        if len(k) > 0xFFFF or len(v) > 0xFFFF:
            raise FormatError("invalid context")
    if len(items) > 0xFFFF:
        raise FormatError("invalid context")
    out = u16(len(items))
    for k, v in items:
        out += u16(len(k)) + k + u16(len(v)) + v
    if len(out) > MAX_CONTEXT_BYTES:
        raise FormatError("invalid context")
    return out


def context_decode(data):
    """Canonical bytes -> list of (str, str) in encoded order."""
    data = bytes(data)
    if len(data) == 0:
        return []
    r = Reader(data)
    count = r.u16()
    if count == 0:
        raise FormatError("invalid context")
    pairs = []
    previous = None
    for _ in range(count):
        k = r.take(r.u16())
        v = r.take(r.u16())
        if len(k) == 0:
            raise FormatError("invalid context")
        if previous is not None and not previous < k:
            raise FormatError("invalid context")  # out of order or repeated
        if not is_utf8(k) or not is_utf8(v):
            raise FormatError("invalid context")
        previous = k
        pairs.append((k.decode("utf-8"), v.decode("utf-8")))
    if r.remaining():
        raise FormatError("trailing bytes")
    if len(data) > MAX_CONTEXT_BYTES:
        raise FormatError("invalid context")
    return pairs


# --------------------------------------------------------------------------------------------
# Section 2: ciphertext blob
# --------------------------------------------------------------------------------------------

BLOB_VERSION = 0xE1
BLOB_HEADER = 1 + 16 + 4          # version, key id, key version: the first 21 bytes
BLOB_PREFIX = BLOB_HEADER + 24    # ... and the nonce: 45 bytes
BLOB_MIN = BLOB_PREFIX + 16       # 61
BLOB_MAX_AFTER_NONCE = 4096 + 16  # 4,112


def blob_seal(material, key_id, key_version, nonce, context_pairs, plaintext, version=BLOB_VERSION):
    head = u8(version) + uuid.UUID(key_id).bytes + u32(key_version)
    aad = head + context_encode(context_pairs)
    return head + nonce + aead_encrypt(material, nonce, aad, plaintext)


def blob_parse(blob):
    blob = bytes(blob)
    if len(blob) == 0:
        raise FormatError("truncated")
    if blob[0] != BLOB_VERSION:
        raise FormatError("unknown version")
    if len(blob) < BLOB_MIN:
        raise FormatError("truncated")
    key_id = str(uuid.UUID(bytes=blob[1:17]))
    key_version = struct.unpack(">I", blob[17:21])[0]
    if key_version == 0:
        raise FormatError("invalid field")
    if len(blob) - BLOB_PREFIX > BLOB_MAX_AFTER_NONCE:
        raise FormatError("invalid field")
    return key_id, key_version, blob[21:45], blob[45:]


def blob_open(blob, material, context_pairs):
    key_id, key_version, nonce, sealed = blob_parse(blob)
    aad = bytes(blob[:BLOB_HEADER]) + context_encode(context_pairs)
    return aead_decrypt(material, nonce, aad, sealed)


# --------------------------------------------------------------------------------------------
# Section 3: sealed values
# --------------------------------------------------------------------------------------------

SEALED_PREFIX = "es1:"
SPELLING_PREFIX = "es2:"


class FileKeys:
    def __init__(self, data_key):
        assert len(data_key) == 32
        self.siv_mac_key = kdf(data_key, 1, b"esvalue1")
        self.stream_key = kdf(data_key, 2, b"esvalue1")
        self.header_mac_key = kdf(data_key, 1, b"esheadr1")
        self.tag_key = kdf(data_key, 2, b"esheadr1")


def associated_data(prefix, name):
    """A sealed value's associated data is its name; a sealed spelling's, "es2:" and the name."""
    return ((SPELLING_PREFIX if prefix == SPELLING_PREFIX else "") + name).encode("utf-8")


def seal_value(data_key, name, value, prefix=SEALED_PREFIX):
    keys = FileKeys(data_key)
    v = value.encode("utf-8")
    iv = blake2b_parts(keys.siv_mac_key, 16, [associated_data(prefix, name), v])
    c = xchacha20_xor(keys.stream_key, iv + bytes(8), v)
    return prefix + b64u_encode(iv + c)


def decode_spelling(spelling):
    """The value of one dotenv value as written (DOTENV.md section 3), for the spelling vectors."""
    if spelling[:1] in ("'", "`"):
        assert spelling[-1] == spelling[0] and spelling[0] not in spelling[1:-1]
        return spelling[1:-1].replace("\r\n", "\n")
    if spelling[:1] != '"':
        assert "\n" not in spelling and " #" not in spelling and spelling == spelling.strip(" \t")
        return spelling
    assert spelling[-1] == '"' and len(spelling) >= 2
    out, i, inner = [], 0, spelling[1:-1]
    escapes = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "$": "$"}
    while i < len(inner):
        if inner[i] == "\r" and inner[i + 1:i + 2] == "\n":
            out.append("\n")
            i += 2
        elif inner[i] == "\\" and inner[i + 1:i + 2] in escapes and i + 1 < len(inner):
            out.append(escapes[inner[i + 1]])
            i += 2
        else:
            assert inner[i] != '"', "an unescaped quote ends the value"
            out.append(inner[i])
            i += 1
    return "".join(out)


def sealed_bytes(text):
    """Decoded bytes (iv || c) of a sealed text, with the parse errors of section 3."""
    if not text.startswith((SEALED_PREFIX, SPELLING_PREFIX)):
        raise FormatError("invalid field")
    raw = b64u_decode(text[len(SEALED_PREFIX):])
    if len(raw) < 16:
        raise FormatError("truncated")
    return raw


def open_value(data_key, name, text):
    raw = sealed_bytes(text)
    keys = FileKeys(data_key)
    iv, c = raw[:16], raw[16:]
    v = xchacha20_xor(keys.stream_key, iv + bytes(8), c)
    if blake2b_parts(keys.siv_mac_key, 16, [associated_data(text[:4], name), v]) != iv:
        raise FormatError("authentication failure")
    return v.decode("utf-8")


# --------------------------------------------------------------------------------------------
# Section 4: sealed-file header
# --------------------------------------------------------------------------------------------

HEADER_VERSION = 0x01
KIND_SEALED = 0
KIND_COVERED = 1


def entry_tag(keys, kind, name, value_bytes):
    return blake2b_parts(keys.tag_key, 16, [u8(kind), name, value_bytes])[:4]


def header_body(version, flags, arn, context_bytes, wrapped, entries):
    """entries: list of (kind, name bytes, 4-byte tag), written in the order given."""
    out = u8(version) + u8(flags)
    if arn is not None:
        out += u16(len(arn)) + arn
    out += u16(len(context_bytes)) + context_bytes
    out += u16(len(wrapped)) + wrapped
    out += u16(len(entries))
    for kind, name, tag in entries:
        out += u8(kind) + u8(len(name)) + name + tag
    return out


def header_build(data_key, arn, context_bytes, wrapped, entries, version=HEADER_VERSION,
                 flags=None):
    """entries: list of (kind, name bytes, value bytes) in the order to write (no sorting or
    checks here, so malformed headers can be built with correct tags and MAC)."""
    keys = FileKeys(data_key)
    if flags is None:
        flags = 0x01 if arn is not None else 0x00
    tagged = [(kind, name, entry_tag(keys, kind, name, value)) for kind, name, value in entries]
    body = header_body(version, flags, arn, context_bytes, wrapped, tagged)
    parts = [body]
    for _, name, value in entries:
        parts += [name, value]
    return body + blake2b_parts(keys.header_mac_key, 16, parts)


def file_entries(sealed, covered):
    """Header entries for a file: sealed {name: text}, covered {name: plain value}; sorted."""
    entries = [(KIND_SEALED, n.encode("utf-8"), sealed_bytes(t)) for n, t in sealed.items()]
    entries += [(KIND_COVERED, n.encode("utf-8"), v.encode("utf-8")) for n, v in covered.items()]
    entries.sort(key=lambda e: e[1])
    names = [e[1] for e in entries]
    assert len(set(names)) == len(names)
    return entries


def header_for_file(data_key, arn, context_pairs, wrapped, sealed, covered):
    return header_build(data_key, None if arn is None else arn.encode("utf-8"),
                        context_encode(context_pairs), wrapped, file_entries(sealed, covered))


def header_parse(text):
    data = b64u_decode(text)
    r = Reader(data)
    version = r.u8()
    if version == HEADER_VERSION_2:
        return header_parse_v2(data, r)
    if version != HEADER_VERSION:
        raise FormatError("unknown version")
    flags = r.u8()
    if flags & ~0x01:
        raise FormatError("invalid field")
    arn = None
    if flags & 0x01:
        arn_bytes = r.take(r.u16())
        if len(arn_bytes) == 0 or not is_utf8(arn_bytes):
            raise FormatError("invalid field")
        arn = arn_bytes.decode("utf-8")
    context_bytes = r.take(r.u16())
    context_pairs = context_decode(context_bytes)
    wrapped = r.take(r.u16())
    if len(wrapped) == 0:
        raise FormatError("invalid field")
    return header_parse_entries(data, r, {"version": 1, "arn": arn, "context_pairs": context_pairs,
                                          "wrapped": wrapped})


def header_parse_entries(data, r, parsed):
    """The entry list and MAC, the same in both versions."""
    count = r.u16()
    entries = []
    previous = None
    for _ in range(count):
        kind = r.u8()
        name = r.take(r.u8())
        tag = r.take(4)
        if kind not in (KIND_SEALED, KIND_COVERED):
            raise FormatError("invalid field")
        if len(name) == 0 or not is_utf8(name):
            raise FormatError("invalid field")
        if previous is not None and not previous < name:
            raise FormatError("invalid field")
        previous = name
        entries.append((kind, name, tag))
    body_end = r.pos
    mac = r.take(16)
    if r.remaining():
        raise FormatError("trailing bytes")
    parsed.update({"entries": entries, "body": data[:body_end], "mac": mac})
    return parsed


def header_verify(data_key, text, file_sealed, file_covered):
    """Section 4 verification, in its order. The file is file_sealed (name -> es1: text) plus
    file_covered (name -> plain value)."""
    h = header_parse(text)
    keys = FileKeys(data_key)
    file_values = dict(file_covered)
    file_values.update(file_sealed)
    assert len(file_values) == len(file_sealed) + len(file_covered)
    listed = {name.decode("utf-8"): kind for kind, name, _ in h["entries"]}
    # 1. every entry's variable is present in the file
    for kind, name, _ in h["entries"]:
        if name.decode("utf-8") not in file_values:
            raise FormatError("missing variable", name.decode("utf-8"))
    # 2. every variable whose value has the es1: prefix is an entry of kind 0 (file order is
    #    not given by the vectors; they never hold more than one such variable)
    for name in sorted(file_values, key=lambda n: n.encode("utf-8")):
        if file_values[name].startswith((SEALED_PREFIX, SPELLING_PREFIX)) and listed.get(name) != KIND_SEALED:
            raise FormatError("unlisted variable", name)
    # 3. the MAC; else the first entry whose tag does not match; else header mac mismatch
    values = []
    for kind, name, _ in h["entries"]:
        v = file_values[name.decode("utf-8")]
        values.append(sealed_bytes(v) if kind == KIND_SEALED else v.encode("utf-8"))
    parts = [h["body"]]
    for (_, name, _), value in zip(h["entries"], values):
        parts += [name, value]
    if blake2b_parts(keys.header_mac_key, 16, parts) != h["mac"]:
        for (kind, name, tag), value in zip(h["entries"], values):
            if entry_tag(keys, kind, name, value) != tag:
                raise FormatError("changed variable", name.decode("utf-8"))
        raise FormatError("header mac mismatch")
    # 4. each sealed value opens
    for kind, name, _ in h["entries"]:
        if kind == KIND_SEALED:
            n = name.decode("utf-8")
            try:
                open_value(data_key, n, file_values[n])
            except FormatError as e:
                raise FormatError(e.kind, n)
    return h


# --------------------------------------------------------------------------------------------
# crypto_box_seal (X25519, HSalsa20, XSalsa20-Poly1305), with a fixed ephemeral key
# --------------------------------------------------------------------------------------------

SIGMA = b"expand 32-byte k"


def _salsa_rounds(x):
    def qr(a, b, c, d):
        x[b] ^= _rotl32((x[a] + x[d]) & 0xFFFFFFFF, 7)
        x[c] ^= _rotl32((x[b] + x[a]) & 0xFFFFFFFF, 9)
        x[d] ^= _rotl32((x[c] + x[b]) & 0xFFFFFFFF, 13)
        x[a] ^= _rotl32((x[d] + x[c]) & 0xFFFFFFFF, 18)
    for _ in range(10):
        qr(0, 4, 8, 12); qr(5, 9, 13, 1); qr(10, 14, 2, 6); qr(15, 3, 7, 11)
        qr(0, 1, 2, 3); qr(5, 6, 7, 4); qr(10, 11, 8, 9); qr(15, 12, 13, 14)


def _salsa_state(key, in16):
    c = struct.unpack("<4I", SIGMA)
    k = struct.unpack("<8I", key)
    i = struct.unpack("<4I", in16)
    return [c[0], k[0], k[1], k[2], k[3], c[1], i[0], i[1], i[2], i[3], c[2], k[4], k[5], k[6], k[7], c[3]]


def hsalsa20(key, in16):
    x = _salsa_state(key, in16)
    _salsa_rounds(x)
    return struct.pack("<8I", *[x[i] for i in (0, 5, 10, 15, 6, 7, 8, 9)])


def salsa20_stream(key, nonce8, length):
    out = b""
    counter = 0
    while len(out) < length:
        j = _salsa_state(key, nonce8 + struct.pack("<Q", counter))
        x = list(j)
        _salsa_rounds(x)
        out += struct.pack("<16I", *[(x[i] + j[i]) & 0xFFFFFFFF for i in range(16)])
        counter += 1
    return out[:length]


def x25519_public(secret):
    return X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def box_seal(message, recipient_pk, ephemeral_sk):
    """crypto_box_seal with a given ephemeral secret key: epk || Poly1305 tag || ciphertext."""
    epk = x25519_public(ephemeral_sk)
    shared = X25519PrivateKey.from_private_bytes(ephemeral_sk).exchange(X25519PublicKey.from_public_bytes(recipient_pk))
    k = hsalsa20(shared, b"\x00" * 16)
    nonce = hashlib.blake2b(epk + recipient_pk, digest_size=24).digest()
    subkey = hsalsa20(k, nonce[:16])
    stream = salsa20_stream(subkey, nonce[16:], 32 + len(message))
    c = bytes(a ^ b for a, b in zip(message, stream[32:]))
    return epk + Poly1305.generate_tag(stream[:32], c) + c


def box_seal_open(sealed, recipient_sk):
    if len(sealed) < 48:
        raise FormatError("authentication failure")
    epk, tag, c = sealed[:32], sealed[32:48], sealed[48:]
    pk = x25519_public(recipient_sk)
    shared = X25519PrivateKey.from_private_bytes(recipient_sk).exchange(X25519PublicKey.from_public_bytes(epk))
    k = hsalsa20(shared, b"\x00" * 16)
    nonce = hashlib.blake2b(epk + pk, digest_size=24).digest()
    subkey = hsalsa20(k, nonce[:16])
    stream = salsa20_stream(subkey, nonce[16:], 32 + len(c))
    try:
        Poly1305.verify_tag(stream[:32], c, tag)
    except InvalidSignature:
        raise FormatError("authentication failure")
    return bytes(a ^ b for a, b in zip(c, stream[32:]))


# --------------------------------------------------------------------------------------------
# Section 4, version 2: key slots
# --------------------------------------------------------------------------------------------

HEADER_VERSION_2 = 0x02
SLOT_KMS = 0
SLOT_RECIPIENT = 1
RECIPIENT_SEALED_BYTES = 32 + 48


def slot_kms(arn, context_bytes, wrapped, flags=None):
    if flags is None:
        flags = 0x01 if arn is not None else 0x00
    out = u8(SLOT_KMS) + u8(flags)
    if arn is not None:
        out += u16(len(arn)) + arn
    return out + u16(len(context_bytes)) + context_bytes + u16(len(wrapped)) + wrapped


def slot_recipient(public_key, sealed):
    return u8(SLOT_RECIPIENT) + public_key + sealed


def header_v2_build(data_key, slots, entries, flags=0, count=None, version=HEADER_VERSION_2):
    """slots: encoded slot bytes, written in order; entries as header_build's (no checks here)."""
    keys = FileKeys(data_key)
    tagged = [(kind, name, entry_tag(keys, kind, name, value)) for kind, name, value in entries]
    body = u8(version) + u8(flags) + u8(len(slots) if count is None else count) + b"".join(slots)
    body += u16(len(tagged))
    for kind, name, tag in tagged:
        body += u8(kind) + u8(len(name)) + name + tag
    parts = [body]
    for _, name, value in entries:
        parts += [name, value]
    return body + blake2b_parts(keys.header_mac_key, 16, parts)


def header_parse_v2(data, r):
    if r.u8() != 0:
        raise FormatError("invalid field")
    count = r.u8()
    if count == 0:
        raise FormatError("invalid field")
    slots = []
    for _ in range(count):
        kind = r.u8()
        if kind == SLOT_KMS:
            flags = r.u8()
            if flags & ~0x01:
                raise FormatError("invalid field")
            arn = None
            if flags & 0x01:
                arn_bytes = r.take(r.u16())
                if len(arn_bytes) == 0 or not is_utf8(arn_bytes):
                    raise FormatError("invalid field")
                arn = arn_bytes.decode("utf-8")
            context_bytes = r.take(r.u16())
            context_pairs = context_decode(context_bytes)
            wrapped = r.take(r.u16())
            if len(wrapped) == 0:
                raise FormatError("invalid field")
            slots.append({"kind": "kms", "arn": arn, "context_bytes": context_bytes,
                          "context_pairs": context_pairs, "wrapped": wrapped})
        elif kind == SLOT_RECIPIENT:
            slots.append({"kind": "recipient", "public_key": r.take(32),
                          "sealed": r.take(RECIPIENT_SEALED_BYTES)})
        else:
            raise FormatError("invalid field")
    seen = set()
    for slot in slots:
        if slot["kind"] == "kms":
            if slot["arn"] is None:
                continue
            ident = ("kms", slot["arn"], slot["context_bytes"])
        else:
            ident = ("recipient", slot["public_key"])
        if ident in seen:
            raise FormatError("invalid field")
        seen.add(ident)
    return header_parse_entries(data, r, {"version": 2, "slots": slots})


# --------------------------------------------------------------------------------------------
# Vector files
# --------------------------------------------------------------------------------------------

def pairs_json(pairs):
    return [[k, v] for k, v in pairs]


def context_vectors():
    cases = []

    def enc(name, pairs, expect="success"):
        case = {"name": "encode: " + name, "direction": "encode", "pairs": pairs_json(pairs), "expect": expect}
        if expect == "success":
            case["canonical_hex"] = context_encode(pairs).hex()
        else:
            expect_error(expect, context_encode, pairs)
        cases.append(case)

    def dec(name, hexstr, expect="success"):
        case = {"name": "decode: " + name, "direction": "decode", "canonical_hex": hexstr, "expect": expect}
        if expect == "success":
            case["pairs"] = pairs_json(context_decode(bytes.fromhex(hexstr)))
        else:
            expect_error(expect, context_decode, bytes.fromhex(hexstr))
        cases.append(case)

    # exactly 8,192 bytes: u16 count + u16 klen + "k" + u16 vlen + value = 7 + len(value)
    big_value = "v" * (MAX_CONTEXT_BYTES - 7)
    success = [
        ("empty context", []),
        ("one pair", [("envseal:file", "app.env")]),
        ("several pairs (encoder input out of order)",
         [("stage", "prod"), ("app", "billing"), ("region", "us-east-1"), ("team", "payments")]),
        ("ab:c (lengths are explicit)", [("ab", "c")]),
        ("a:bc (lengths are explicit)", [("a", "bc")]),
        ("keys sharing a prefix, shorter first", [("b", "3"), ("aa", "2"), ("a", "1")]),
        ("non-ASCII keys sorted by UTF-8 bytes", [("é", "accent"), ("z", "lower"), ("Z", "upper")]),
        ("decomposed key sorts by its bytes, not its NFC form",
         [("f", "plain f"), ("e\u0301", "e + combining acute")]),
        ("BMP key above the surrogates sorts before an astral key (UTF-8, not UTF-16, order)",
         [("\U0001F600", "astral"), ("\uFF5E", "fullwidth tilde")]),
        ("unicode-normalisation: NFC and NFD spellings are distinct keys",
         [("é", "nfc"), ("e\u0301", "nfd")]),
        ("empty value", [("k", "v"), ("empty", "")]),
        ("unicode value", [("owner", "Zoë 🔐")]),
        ("upper and lower case keys are distinct", [("key", "lower"), ("Key", "upper")]),
        ("LambdaFunctionName context", [("LambdaFunctionName", "billing")]),
        ("exactly 8192 bytes", [("k", big_value)]),
    ]
    for name, pairs in success:
        enc(name, pairs)
    assert context_encode([("ab", "c")]).hex() == "0001000261620001" + "63"
    assert context_encode([("a", "bc")]).hex() == "00010001610002" + "6263"
    assert len(context_encode([("k", big_value)])) == MAX_CONTEXT_BYTES
    enc("8193 bytes", [("k", big_value + "v")], "invalid context")
    enc("empty key", [("", "value")], "invalid context")
    enc("empty key among other pairs", [("a", "1"), ("", "2")], "invalid context")

    for name, pairs in success:
        dec(name, context_encode(pairs).hex())

    def pair(k, v):
        return (u16(len(k)) + k + u16(len(v)) + v).hex()

    one = context_encode([("envseal:file", "app.env")]).hex()
    two = context_encode([("a", "1"), ("b", "2")]).hex()
    dec("zero count", "0000", "invalid context")
    dec("zero count with trailing pair bytes", "0000" + pair(b"a", b"1"), "invalid context")
    dec("keys out of order", "0002" + pair(b"b", b"2") + pair(b"a", b"1"), "invalid context")
    dec("longer key before its prefix", "0002" + pair(b"aa", b"2") + pair(b"a", b"1"),
        "invalid context")
    dec("upper case after lower case", "0002" + pair(b"z", b"1") + pair(b"Z", b"2"),
        "invalid context")
    dec("NFC-ordered (not byte-ordered) decomposed key",
        "0002" + pair(b"f", b"1") + pair("e\u0301".encode(), b"2"), "invalid context")
    dec("UTF-16-ordered (not byte-ordered) astral key",
        "0002" + pair("\U0001F600".encode(), b"1") + pair("\uFF5E".encode(), b"2"),
        "invalid context")
    dec("repeated key", "0002" + pair(b"a", b"1") + pair(b"a", b"2"), "invalid context")
    dec("repeated key, same value", "0002" + pair(b"a", b"1") + pair(b"a", b"1"),
        "invalid context")
    dec("empty key", "0001" + pair(b"", b"v"), "invalid context")
    dec("empty key first of two", "0002" + pair(b"", b"v") + pair(b"a", b"1"), "invalid context")
    dec("truncated: one byte", "00", "truncated")
    dec("truncated: count only", "0001", "truncated")
    dec("truncated: inside key length", one[:6], "truncated")
    dec("truncated: inside key", one[:14], "truncated")
    dec("truncated: before value length", one[:4 + 4 + 24], "truncated")
    dec("truncated: inside value length", one[:4 + 4 + 24 + 2], "truncated")
    dec("truncated: inside value", one[:-2], "truncated")
    dec("truncated: second pair missing", "0002" + pair(b"a", b"1"), "truncated")
    dec("truncated: count larger than pairs", "0003" + two[4:], "truncated")
    dec("trailing bytes: one zero byte", one + "00", "trailing bytes")
    dec("trailing bytes: count smaller than pairs", "0001" + two[4:], "trailing bytes")
    dec("invalid UTF-8 key (0xff)", "0001" + pair(b"\xff", b"v"), "invalid context")
    dec("invalid UTF-8 value (bad continuation)", "0001" + pair(b"k", b"\xc3\x28"),
        "invalid context")
    dec("invalid UTF-8: overlong encoding", "0001" + pair(b"\xc0\xaf", b"v"), "invalid context")
    dec("invalid UTF-8: encoded surrogate", "0001" + pair(b"\xed\xa0\x80", b"v"),
        "invalid context")
    dec("invalid UTF-8: incomplete sequence at end of key", "0001" + pair(b"a\xe2\x82", b"v"),
        "invalid context")
    dec("8193 bytes", "0001" + pair(b"k", big_value.encode() + b"v"), "invalid context")
    return cases


# Keys and identifiers used by the blob vectors.
MASTER_KEY_ID = "5b7c2a90-3e1f-4d6a-8b2c-9f0e1d2c3b4a"
OTHER_KEY_ID = "0c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f"
MATERIAL_V1 = fixed("master key material, version 1", 32)
MATERIAL_V7 = fixed("master key material, version 7", 32)
MATERIAL_OTHER = fixed("another master key's material", 32)


def blob_vectors():
    cases = []
    file_ctx = [("envseal:file", "app.env")]

    def ok(name, material, key_id, version, nonce_label, ctx, plaintext):
        nonce = fixed(nonce_label, 24)
        blob = blob_seal(material, key_id, version, nonce, ctx, plaintext)
        assert blob_open(blob, material, ctx) == plaintext
        assert blob_parse(blob)[:2] == (key_id, version)
        cases.append({"name": name, "key_hex": material.hex(), "key_id": key_id,
                      "key_version": version, "nonce_hex": nonce.hex(),
                      "context_pairs": pairs_json(ctx), "plaintext_hex": plaintext.hex(),
                      "blob_hex": blob.hex(), "expect": "success"})
        return blob

    def bad(name, material, ctx, blob, expect):
        kind = {"wrong key": "authentication failure",
                "context mismatch": "authentication failure"}.get(expect, expect)
        expect_error(kind, blob_open, blob, material, ctx)
        cases.append({"name": name, "key_hex": material.hex(), "context_pairs": pairs_json(ctx),
                      "blob_hex": bytes(blob).hex(), "expect": expect})

    b_empty = ok("empty plaintext, version 1, empty context", MATERIAL_V1, MASTER_KEY_ID, 1,
                 "nonce 1", [], b"")
    ok("one-byte plaintext, version 1, one-pair context", MATERIAL_V1, MASTER_KEY_ID, 1,
       "nonce 2", [("purpose", "test")], b"x")
    data_key = fixed("a data key", 32)
    b_dk = ok("32-byte data key, version 1, file context", MATERIAL_V1, MASTER_KEY_ID, 1,
              "nonce 3", file_ctx, data_key)
    assert len(b_dk) == 93 and len(b64u_encode(b_dk)) == 124
    two_ctx = [("envseal:file", "app.env"), ("envseal:repo", "billing")]
    b_v7 = ok("32-byte data key, version 7, two-pair context", MATERIAL_V7, MASTER_KEY_ID, 7,
              "nonce 4", two_ctx, fixed("another data key", 32))
    ok("32-byte data key, version 1, LambdaFunctionName context, another key id", MATERIAL_OTHER,
       OTHER_KEY_ID, 1, "nonce 5", [("LambdaFunctionName", "billing")], fixed("data key 3", 32))
    b_max = ok("4096-byte plaintext, version 7, empty context", MATERIAL_V7, MASTER_KEY_ID, 7,
               "nonce 6", [], fixed("4096-byte plaintext", 4096))
    assert len(b_max) == 4157 and len(b_empty) == 61

    bad("wrong key: another key's material", MATERIAL_OTHER, file_ctx, b_dk, "wrong key")
    bad("wrong key: version 1 material for a version 7 blob", MATERIAL_V1, two_ctx, b_v7,
        "wrong key")
    bad("context mismatch: other context", MATERIAL_V1, [("envseal:file", "other.env")], b_dk,
        "context mismatch")
    bad("context mismatch: one more pair", MATERIAL_V1,
        file_ctx + [("envseal:repo", "billing")], b_dk, "context mismatch")
    bad("context mismatch: one pair fewer", MATERIAL_V7, file_ctx, b_v7, "context mismatch")
    bad("context mismatch: value case changed", MATERIAL_V1, [("envseal:file", "App.env")], b_dk,
        "context mismatch")
    bad("context mismatch: key case changed", MATERIAL_V1, [("Envseal:file", "app.env")], b_dk,
        "context mismatch")
    bad("context mismatch: empty context for a non-empty one", MATERIAL_V1, [], b_dk,
        "context mismatch")
    bad("context mismatch: non-empty context for an empty one", MATERIAL_V1, file_ctx, b_empty,
        "context mismatch")
    bad("flipped bit in the key id", MATERIAL_V1, file_ctx, flip(b_dk, 5), "authentication failure")
    bad("flipped bit in the key version", MATERIAL_V1, file_ctx, flip(b_dk, 18),
        "authentication failure")
    bad("flipped bit in the nonce", MATERIAL_V1, file_ctx, flip(b_dk, 30, 0x80),
        "authentication failure")
    bad("flipped bit in the ciphertext", MATERIAL_V1, file_ctx, flip(b_dk, 50, 0x10),
        "authentication failure")
    bad("flipped bit in the tag", MATERIAL_V1, file_ctx, flip(b_dk, len(b_dk) - 1),
        "authentication failure")
    bad("flipped bit in the tag of an empty plaintext", MATERIAL_V1, [], flip(b_empty, 60, 0x40),
        "authentication failure")
    bad("key version changed from 1 to 2", MATERIAL_V1, file_ctx,
        b_dk[:17] + u32(2) + b_dk[21:], "authentication failure")
    bad("key version changed from 7 to 1", MATERIAL_V7, two_ctx,
        b_v7[:17] + u32(1) + b_v7[21:], "authentication failure")
    bad("truncated: 0 bytes", MATERIAL_V1, file_ctx, b"", "truncated")
    bad("truncated: 1 byte", MATERIAL_V1, file_ctx, b_dk[:1], "truncated")
    bad("truncated: 44 bytes", MATERIAL_V1, file_ctx, b_dk[:44], "truncated")
    bad("truncated: 60 bytes", MATERIAL_V1, file_ctx, b_dk[:60], "truncated")
    bad("truncated: 60 bytes of an empty-plaintext blob", MATERIAL_V1, [], b_empty[:60],
        "truncated")
    bad("unknown version 0x01 (AWS KMS blob)", MATERIAL_V1, file_ctx, b"\x01" + b_dk[1:],
        "unknown version")
    bad("unknown version 0xE2", MATERIAL_V1, file_ctx, b"\xe2" + b_dk[1:], "unknown version")
    bad("key version 0", MATERIAL_V1, file_ctx,
        blob_seal(MATERIAL_V1, MASTER_KEY_ID, 0, fixed("nonce 7", 24), file_ctx, data_key),
        "invalid field")
    b_over = blob_seal(MATERIAL_V1, MASTER_KEY_ID, 1, fixed("nonce 8", 24), [],
                       fixed("4097-byte plaintext", 4097))
    assert len(b_over) - 45 == 4113
    bad("4113 bytes after the nonce", MATERIAL_V1, [], b_over, "invalid field")
    return cases


DK_VALUES = fixed("sealed-value data key", 32)
DK_OTHER = fixed("sealed-value other data key", 32)


def sealed_value_vectors():
    cases = []
    texts = {}

    def ok(name, variable, value):
        text = seal_value(DK_VALUES, variable, value)
        assert open_value(DK_VALUES, variable, text) == value
        n = len(value.encode("utf-8"))
        assert len(text) == 4 + -(-(n + 16) * 4 // 3)
        texts[name] = text
        cases.append({"name": name, "data_key_hex": DK_VALUES.hex(), "variable": variable,
                      "value": value, "sealed": text, "expect": "success"})
        return text

    def bad(name, data_key, variable, text, expect):
        expect_error(expect, open_value, data_key, variable, text)
        cases.append({"name": name, "data_key_hex": data_key.hex(), "variable": variable,
                      "sealed": text, "expect": expect})

    t_empty = ok("empty value", "EMPTY", "")
    t_pw = ok("16-character password", "DB_PASSWORD", "correct-horse-42")
    t_api = ok("40-character API key", "API_KEY", "sk_live_" + b64u_encode(fixed("api", 24)))
    ok("postgres URL with # and =", "DATABASE_URL",
       "postgres://app:p#ss=w0rd@db.internal:5432/billing?sslmode=verify-full&opt=a=b#frag")
    ok("multi-line PEM-like value", "TLS_KEY",
       "-----BEGIN PRIVATE KEY-----\n"
       + "\n".join(base64.b64encode(fixed("pem", 144)).decode()[i:i + 64] for i in range(0, 192, 64))
       + "\n-----END PRIVATE KEY-----\n")
    ok("unicode value (emoji and accents)", "GREETING", "Grüße, café crème 🔐🌍 ñandú")
    ok("1000-byte value", "BIG_VALUE", "".join(
        B64URL_ALPHABET[b % 62] for b in fixed("1000-byte value", 1000)))
    def ok_spelling(name, variable, spelling):
        text = seal_value(DK_VALUES, variable, spelling, prefix=SPELLING_PREFIX)
        assert open_value(DK_VALUES, variable, text) == spelling
        texts[name] = text
        cases.append({"name": name, "data_key_hex": DK_VALUES.hex(), "variable": variable, "value": spelling,
                      "spelling": True, "decoded": decode_spelling(spelling), "sealed": text, "expect": "success"})
        return text

    # Spellings the dotenv writer would not give back from the value alone (DOTENV.md section 5).
    t_spelled = ok_spelling("spelling: unknown escape kept", "ACCENT", '"\\u00e9"')
    ok_spelling("spelling: dollar escaped in double quotes", "PRICE", '"it\'s $5 and \\$6"')
    ok_spelling("spelling: unquoted ${X}", "K", "${X}")
    ok_spelling("spelling: unquoted value with #", "HASHVAL", "abc#def")
    ok_spelling("spelling: unquoted value with quotes and spaces", "F", "unquoted 'quote' inside")
    ok_spelling("spelling: backticks", "TICK", "`tick # tock`")
    ok_spelling("spelling: escaped newline and CRLF in double quotes", "PEM", '"a\\nb\r\nc"')
    t_a = ok("same value under a first name", "PRIMARY_TOKEN", "same-value-for-both")
    t_b = ok("same value under a second name", "SECONDARY_TOKEN", "same-value-for-both")
    assert t_a != t_b

    bad("opened under another variable name", DK_VALUES, "DB_PASSWORD_OLD", t_pw,
        "authentication failure")
    bad("same-value text opened under the other name", DK_VALUES, "SECONDARY_TOKEN", t_a,
        "authentication failure")
    bad("opened under another data key", DK_OTHER, "DB_PASSWORD", t_pw, "authentication failure")

    def change_char(text, index):
        ch = "B" if text[index] == "A" else "A"
        return text[:index] + ch + text[index + 1:]

    bad("one character changed in the IV", DK_VALUES, "API_KEY", change_char(t_api, 4 + 5),
        "authentication failure")
    bad("one character changed in the ciphertext", DK_VALUES, "API_KEY",
        change_char(t_api, len(t_api) - 6), "authentication failure")
    bad("one character changed in the IV of an empty value", DK_VALUES, "EMPTY",
        change_char(t_empty, 10), "authentication failure")
    raw_pw = sealed_bytes(t_pw)
    bad("truncated to 15 decoded bytes", DK_VALUES, "DB_PASSWORD",
        SEALED_PREFIX + b64u_encode(raw_pw[:15]), "truncated")
    bad("truncated to 0 decoded bytes", DK_VALUES, "DB_PASSWORD", SEALED_PREFIX, "truncated")
    bad("no prefix", DK_VALUES, "DB_PASSWORD", t_pw[len(SEALED_PREFIX):], "invalid field")
    bad("es3: prefix", DK_VALUES, "DB_PASSWORD", "es3:" + t_pw[4:], "invalid field")
    # The prefix is bound in through the associated data: relabelling either way fails to open.
    bad("sealed value relabelled as a spelling (es2:)", DK_VALUES, "DB_PASSWORD", SPELLING_PREFIX + t_pw[4:],
        "authentication failure")
    bad("sealed spelling relabelled as a value (es1:)", DK_VALUES, "ACCENT", SEALED_PREFIX + t_spelled[4:],
        "authentication failure")
    bad("sealed spelling opened under another name", DK_VALUES, "ACCENT_OLD", t_spelled, "authentication failure")
    bad("upper-case ES1: prefix", DK_VALUES, "DB_PASSWORD", "ES1:" + t_pw[4:], "invalid field")
    bad("plain value", DK_VALUES, "DB_PASSWORD", "correct-horse-42", "invalid field")
    assert len(t_pw) % 4 == 3 and len(t_empty) % 4 == 2
    bad("padded with =", DK_VALUES, "DB_PASSWORD", t_pw + "=", "invalid base64")
    bad("padded with ==", DK_VALUES, "EMPTY", t_empty + "==", "invalid base64")
    with_dash = next(t for t in texts.values() if "-" in t[4:])
    with_under = next(t for t in texts.values() if "_" in t[4:])
    name_of = {t: n for n, t in texts.items()}
    var_of = {c["sealed"]: c["variable"] for c in cases if c["expect"] == "success"}
    i = with_dash.index("-", 4)
    bad(f"standard alphabet: + for - ({name_of[with_dash]})", DK_VALUES, var_of[with_dash],
        with_dash[:i] + "+" + with_dash[i + 1:], "invalid base64")
    i = with_under.index("_", 4)
    bad(f"standard alphabet: / for _ ({name_of[with_under]})", DK_VALUES, var_of[with_under],
        with_under[:i] + "/" + with_under[i + 1:], "invalid base64")

    def set_unused_bit(text):
        last = B64URL_ALPHABET.index(text[-1])
        return text[:-1] + B64URL_ALPHABET[last | 1]

    assert set_unused_bit(t_pw) != t_pw and set_unused_bit(t_empty) != t_empty
    bad("non-canonical last character (2 unused bits set)", DK_VALUES, "DB_PASSWORD",
        set_unused_bit(t_pw), "invalid base64")
    bad("non-canonical last character (4 unused bits set)", DK_VALUES, "EMPTY",
        set_unused_bit(t_empty), "invalid base64")
    bad("impossible length (4k+1 characters)", DK_VALUES, "EMPTY", t_empty + "AAA",
        "invalid base64")
    bad("space inside the text", DK_VALUES, "DB_PASSWORD", t_pw[:10] + " " + t_pw[10:],
        "invalid base64")
    return cases, len(t_api) - 40, len(t_pw) - 16


DK_HEADER = fixed("header data key", 32)
DK_HEADER_OTHER_FILE = fixed("header data key of another file", 32)
AWS_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def header_vectors():
    cases = []
    measured = {}
    file_ctx = [("envseal:file", "app.env")]
    wrapped = blob_seal(MATERIAL_V1, MASTER_KEY_ID, 1, fixed("header nonce", 24), file_ctx,
                        DK_HEADER)
    assert len(wrapped) == 93
    # An opaque AWS KMS-style CiphertextBlob (first byte 0x01; content is arbitrary here).
    aws_wrapped = bytes.fromhex("0102020078") + fixed("aws-style ciphertext blob", 179)

    def ok(name, data_key, arn, ctx, wrapped_key, plain_sealed, covered):
        # A value given as (SPELLING_PREFIX, spelling) is sealed as a spelling (section 3).
        sealed = {n: seal_value(data_key, n, v[1], prefix=v[0]) if isinstance(v, tuple) else seal_value(data_key, n, v)
                  for n, v in plain_sealed.items()}
        header = header_for_file(data_key, arn, ctx, wrapped_key, sealed, covered)
        text = b64u_encode(header)
        h = header_verify(data_key, text, sealed, covered)
        assert h["arn"] == arn and h["context_pairs"] == context_decode(context_encode(ctx))
        assert h["wrapped"] == wrapped_key
        cases.append({"name": name, "data_key_hex": data_key.hex(), "key_arn": arn,
                      "context_pairs": pairs_json(ctx), "wrapped_data_key_hex": wrapped_key.hex(),
                      "sealed": sealed, "covered": covered, "header": text, "expect": "success"})
        return header, text, sealed

    def fail(name, data_key, text, file_sealed, file_covered, expect, variable=None):
        expect_error(expect, header_verify, data_key, text, file_sealed, file_covered,
                     variable=variable)
        case = {"name": name, "data_key_hex": data_key.hex(), "header": text,
                "file_sealed": file_sealed, "file_covered": file_covered, "expect": expect}
        if variable is not None:
            case["variable"] = variable
        cases.append(case)

    def parse_fail(name, text, expect):
        expect_error(expect, header_parse, text)
        cases.append({"name": name, "header": text, "expect": expect})

    # -- success --
    ok("no ARN, one sealed variable", DK_HEADER, None, file_ctx, wrapped,
       {"API_KEY": "sk_live_0123456789abcdef"}, {})
    _, spelled_header, spelled = ok(
        "a sealed spelling beside a sealed value and a covered one", DK_HEADER, None, file_ctx, wrapped,
        {"ACCENT": (SPELLING_PREFIX, '"\\u00e9"'), "API_KEY": "sk_live_0123456789abcdef"}, {"REGION": "eu-west-1"})
    fail("a sealed spelling added to the file", DK_HEADER, spelled_header,
         dict(spelled, EXTRA=spelled["ACCENT"]), {"REGION": "eu-west-1"}, "unlisted variable", "EXTRA")
    fail("a sealed spelling relabelled as a value", DK_HEADER, spelled_header,
         dict(spelled, ACCENT=SEALED_PREFIX + spelled["ACCENT"][4:]), {"REGION": "eu-west-1"},
         "authentication failure", "ACCENT")
    ok("with an ARN and an AWS KMS wrapped key", DK_HEADER, AWS_ARN,
       [("LambdaFunctionName", "billing")], aws_wrapped,
       {"DB_PASSWORD": "correct-horse-42", "STRIPE_KEY": "sk_test_abc"}, {})
    ok("empty context", DK_HEADER, None, [], wrapped, {"TOKEN": "t0k3n"}, {})
    ten = {f"SECRET_{i:05d}": f"secret value number {i}: " + b64u_encode(fixed(f"s{i}", 18))
           for i in range(1, 11)}
    assert all(len(n) == 12 for n in ten)
    h10, t10, _ = ok("10 sealed variables with 12-character names", DK_HEADER, None, file_ctx,
                     wrapped, ten, {})
    measured["ten_bytes"] = len(h10)
    measured["ten_chars"] = len(t10)
    measured["file_context_bytes"] = len(context_encode(file_ctx))
    assert len(h10) == (1 + 1 + 2 + len(context_encode(file_ctx)) + 2 + 93 + 2
                        + sum(6 + len(n) for n in ten) + 16)
    ok("sealed and covered plain variables", DK_HEADER, None, file_ctx, wrapped,
       {"API_KEY": "sk_live_0123456789abcdef", "SESSION_SECRET": "s3ss10n"},
       {"APP_NAME": "billing ☕", "LOG_LEVEL": "info", "PORT": "8080", "EMPTY_PLAIN": ""})
    ok("only covered plain variables", DK_HEADER, None, file_ctx, wrapped, {},
       {"LOG_LEVEL": "info"})
    ok("zero entries", DK_HEADER, None, file_ctx, wrapped, {}, {})
    ok("zero entries, ARN and empty context", DK_HEADER, AWS_ARN, [], aws_wrapped, {}, {})

    # -- verification failures: the header is for the base file, the file shows another --
    base_plain = {"API_KEY": "sk_live_new_2024", "DATABASE_URL": "postgres://u:p@db/app",
                  "SESSION_SECRET": "s3ss10n"}
    base_covered = {"LOG_LEVEL": "info", "PORT": "8080"}
    base_sealed = {n: seal_value(DK_HEADER, n, v) for n, v in base_plain.items()}
    base_header = header_for_file(DK_HEADER, None, file_ctx, wrapped, base_sealed, base_covered)
    base_text = b64u_encode(base_header)
    header_verify(DK_HEADER, base_text, base_sealed, base_covered)
    other_file_sealed = seal_value(DK_HEADER_OTHER_FILE, "STRIPE_KEY", "sk_live_other_file")

    def without(d, name):
        return {k: v for k, v in d.items() if k != name}

    def with_(d, name, value):
        out = dict(d)
        out[name] = value
        return out

    fail("a sealed variable removed", DK_HEADER, base_text, without(base_sealed, "DATABASE_URL"),
         base_covered, "missing variable", "DATABASE_URL")
    fail("a covered variable removed", DK_HEADER, base_text, base_sealed,
         without(base_covered, "PORT"), "missing variable", "PORT")
    fail("a sealed variable renamed", DK_HEADER, base_text,
         with_(without(base_sealed, "DATABASE_URL"), "DB_URL", base_sealed["DATABASE_URL"]),
         base_covered, "missing variable", "DATABASE_URL")
    fail("removed and added: missing is reported first", DK_HEADER, base_text,
         with_(without(base_sealed, "SESSION_SECRET"), "STRIPE_KEY", other_file_sealed),
         base_covered, "missing variable", "SESSION_SECRET")
    fail("a sealed variable added from another file", DK_HEADER, base_text,
         with_(base_sealed, "STRIPE_KEY", other_file_sealed), base_covered,
         "unlisted variable", "STRIPE_KEY")
    fail("a sealed variable of this file's key added", DK_HEADER, base_text,
         with_(base_sealed, "NEW_SECRET", seal_value(DK_HEADER, "NEW_SECRET", "fresh")),
         base_covered, "unlisted variable", "NEW_SECRET")
    old_api = seal_value(DK_HEADER, "API_KEY", "sk_live_old_2023")
    fail("added and changed: unlisted is reported first", DK_HEADER, base_text,
         with_(with_(base_sealed, "API_KEY", old_api), "STRIPE_KEY", other_file_sealed),
         base_covered, "unlisted variable", "STRIPE_KEY")
    fail("a sealed value replaced by an older sealed value", DK_HEADER, base_text,
         with_(base_sealed, "API_KEY", old_api), base_covered, "changed variable", "API_KEY")
    swapped = with_(with_(base_sealed, "SESSION_SECRET", base_sealed["API_KEY"]), "API_KEY",
                    base_sealed["SESSION_SECRET"])
    fail("two sealed values swapped", DK_HEADER, base_text, swapped, base_covered,
         "changed variable", "API_KEY")
    fail("a covered plain value edited", DK_HEADER, base_text, base_sealed,
         with_(base_covered, "LOG_LEVEL", "debug"), "changed variable", "LOG_LEVEL")
    fail("a covered value and a later sealed value changed: first in entry order",
         DK_HEADER, base_text, with_(base_sealed, "SESSION_SECRET",
                                     seal_value(DK_HEADER, "SESSION_SECRET", "rotated")),
         with_(base_covered, "PORT", "9090"), "changed variable", "PORT")
    parsed = header_parse(base_text)
    tagged = parsed["entries"]
    new_ctx = context_encode([("envseal:file", "api.env")])
    edited = header_body(1, 0, None, new_ctx, wrapped, tagged) + parsed["mac"]
    fail("header context changed without re-MACing", DK_HEADER, b64u_encode(edited), base_sealed,
         base_covered, "header mac mismatch")
    edited = header_body(1, 0, None, context_encode(file_ctx), flip(wrapped, 40), tagged) \
        + parsed["mac"]
    fail("header wrapped key changed without re-MACing", DK_HEADER, b64u_encode(edited),
         base_sealed, base_covered, "header mac mismatch")
    fail("header MAC bit flipped", DK_HEADER, b64u_encode(flip(base_header, len(base_header) - 3)),
         base_sealed, base_covered, "header mac mismatch")
    fail("tag bit flipped: reported as that variable changed", DK_HEADER,
         b64u_encode(flip(base_header, base_header.index(b"DATABASE_URL") + 12)),
         base_sealed, base_covered, "changed variable", "DATABASE_URL")
    # The header authenticates the file as it is, but a sealed text does not open under its
    # name (step 4): SESSION_SECRET's text was sealed under the name API_KEY.
    misnamed = with_(base_sealed, "SESSION_SECRET", base_sealed["API_KEY"])
    misnamed_header = header_for_file(DK_HEADER, None, file_ctx, wrapped, misnamed, base_covered)
    fail("header matches but a sealed value does not open under its name", DK_HEADER,
         b64u_encode(misnamed_header), misnamed, base_covered, "authentication failure",
         "SESSION_SECRET")

    # -- parse failures --
    def entries(*items):
        return [(kind, name, value) for kind, name, value in items]

    e_ok = entries((0, b"A", b"\x00" * 16), (1, b"B", b"plain"))
    ctx_b = context_encode(file_ctx)

    def build(**kw):
        args = dict(data_key=DK_HEADER, arn=None, context_bytes=ctx_b, wrapped=wrapped,
                    entries=e_ok)
        args.update(kw)
        return header_build(**args)

    with_arn = build(arn=AWS_ARN.encode())
    header_parse(b64u_encode(with_arn))
    parse_fail("unknown version 0x03", b64u_encode(build(version=3)), "unknown version")
    parse_fail("unknown version 0x00", b64u_encode(build(version=0)), "unknown version")
    parse_fail("unknown flag bit 0x02", b64u_encode(build(flags=0x02)), "invalid field")
    parse_fail("unknown flag bit 0x80 with an ARN", b64u_encode(build(arn=AWS_ARN.encode(),
                                                                      flags=0x81)),
               "invalid field")
    parse_fail("empty ARN", b64u_encode(build(arn=b"")), "invalid field")
    parse_fail("empty wrapped key", b64u_encode(build(wrapped=b"")), "invalid field")
    parse_fail("entry kind 2", b64u_encode(build(entries=entries((2, b"A", b"x")))),
               "invalid field")
    parse_fail("names unsorted", b64u_encode(build(entries=entries((1, b"B", b"1"),
                                                                   (1, b"A", b"2")))),
               "invalid field")
    parse_fail("longer name before its prefix", b64u_encode(build(entries=entries(
        (1, b"AB", b"1"), (1, b"A", b"2")))), "invalid field")
    parse_fail("repeated name", b64u_encode(build(entries=entries((1, b"A", b"1"),
                                                                  (1, b"A", b"2")))),
               "invalid field")
    parse_fail("repeated name with different kinds", b64u_encode(build(entries=entries(
        (0, b"A", b"\x00" * 16), (1, b"A", b"2")))), "invalid field")
    parse_fail("empty name", b64u_encode(build(entries=entries((1, b"", b"1"), (1, b"A", b"2")))),
               "invalid field")
    parse_fail("name not UTF-8", b64u_encode(build(entries=entries((1, b"A\xff", b"1")))),
               "invalid field")
    arn_start = 2 + 2
    parse_fail("truncated inside the ARN", b64u_encode(with_arn[:arn_start + 10]), "truncated")
    full = build()
    entry_a = full.index(b"\x00\x01A")
    parse_fail("truncated inside an entry", b64u_encode(full[:entry_a + 5]), "truncated")
    parse_fail("truncated inside the MAC", b64u_encode(full[:-8]), "truncated")
    parse_fail("truncated before the MAC", b64u_encode(full[:-16]), "truncated")
    parse_fail("truncated inside the wrapped key", b64u_encode(full[:2 + 2 + len(ctx_b) + 2 + 50]),
               "truncated")
    parse_fail("truncated: 1 byte", b64u_encode(full[:1]), "truncated")
    parse_fail("truncated: 0 bytes", "", "truncated")
    parse_fail("trailing bytes: one extra byte", b64u_encode(full + b"\x00"), "trailing bytes")
    needs_padding = next(h for h in (full, with_arn, full + b"\x00", full + b"\x00\x00")
                         if len(h) % 3 != 0)
    header_parse(b64u_encode(needs_padding)) if needs_padding in (full, with_arn) else None
    padded = base64.urlsafe_b64encode(needs_padding).decode()
    assert padded.endswith("=")
    parse_fail("invalid base64: padding", padded, "invalid base64")
    text = b64u_encode(full)
    parse_fail("invalid base64: bad character", text[:20] + "." + text[21:], "invalid base64")
    std = base64.b64encode(full).decode().rstrip("=")
    assert std != text
    parse_fail("invalid base64: standard alphabet", std, "invalid base64")
    np_text = b64u_encode(needs_padding)
    parse_fail("invalid base64: non-canonical last character",
               np_text[:-1] + B64URL_ALPHABET[B64URL_ALPHABET.index(np_text[-1]) | 1],
               "invalid base64")
    parse_fail("invalid context: zero count", b64u_encode(build(context_bytes=b"\x00\x00")),
               "invalid context")
    parse_fail("invalid context: keys out of order", b64u_encode(build(
        context_bytes=bytes.fromhex("0002" "0001" "62" "0001" "32" "0001" "61" "0001" "31"))),
        "invalid context")
    parse_fail("invalid context: empty key", b64u_encode(build(
        context_bytes=bytes.fromhex("0001" "0000" "0001" "76"))), "invalid context")
    return cases, measured


RECOVERY_SK = fixed("recovery recipient secret key", 32)
RECOVERY_SK_OTHER = fixed("another recovery recipient secret key", 32)
ENVSEAL_ARN = "arn:aws:kms:us-east-1:111122223333:key/" + MASTER_KEY_ID


def header_v2_vectors():
    cases = []
    file_ctx = [("envseal:file", "app.env")]
    ctx_b = context_encode(file_ctx)
    wrapped = blob_seal(MATERIAL_V1, MASTER_KEY_ID, 1, fixed("header nonce", 24), file_ctx, DK_HEADER)
    aws_wrapped = bytes.fromhex("0102020078") + fixed("aws-style ciphertext blob", 179)
    lambda_ctx = [("LambdaFunctionName", "billing")]
    recipient_pk = x25519_public(RECOVERY_SK)
    other_pk = x25519_public(RECOVERY_SK_OTHER)
    sealed_dk = box_seal(DK_HEADER, recipient_pk, fixed("ephemeral key of the recipient slot", 32))
    assert len(sealed_dk) == RECIPIENT_SEALED_BYTES and box_seal_open(sealed_dk, RECOVERY_SK) == DK_HEADER

    def kms(arn, ctx, wrapped_key):
        return ({"kind": "kms", "key_arn": arn, "context_pairs": pairs_json(ctx),
                 "wrapped_data_key_hex": wrapped_key.hex()},
                slot_kms(None if arn is None else arn.encode(), context_encode(ctx), wrapped_key))

    def recipient(sk, sealed):
        pk = x25519_public(sk)
        return ({"kind": "recipient", "public_key_hex": pk.hex(), "sealed_data_key_hex": sealed.hex(),
                 "secret_key_hex": sk.hex()}, slot_recipient(pk, sealed))

    def ok(name, slots, plain_sealed, covered):
        sealed = {n: seal_value(DK_HEADER, n, v) for n, v in plain_sealed.items()}
        header = header_v2_build(DK_HEADER, [b for _, b in slots], file_entries(sealed, covered))
        text = b64u_encode(header)
        h = header_verify(DK_HEADER, text, sealed, covered)
        assert h["version"] == 2 and len(h["slots"]) == len(slots)
        for slot in h["slots"]:
            if slot["kind"] == "recipient":
                sk = RECOVERY_SK if slot["public_key"] == recipient_pk else RECOVERY_SK_OTHER
                assert box_seal_open(slot["sealed"], sk) == DK_HEADER
        cases.append({"name": name, "data_key_hex": DK_HEADER.hex(), "slots": [j for j, _ in slots],
                      "sealed": sealed, "covered": covered, "header": text, "expect": "success"})
        return header, text, sealed

    def fail(name, text, file_sealed, file_covered, expect, variable=None):
        expect_error(expect, header_verify, DK_HEADER, text, file_sealed, file_covered, variable=variable)
        case = {"name": name, "data_key_hex": DK_HEADER.hex(), "header": text,
                "file_sealed": file_sealed, "file_covered": file_covered, "expect": expect}
        if variable is not None:
            case["variable"] = variable
        cases.append(case)

    def parse_fail(name, text, expect):
        expect_error(expect, header_parse, text)
        cases.append({"name": name, "header": text, "expect": expect})

    plain = {"API_KEY": "sk_live_0123456789abcdef", "DB_PASSWORD": "correct-horse-42"}
    covered = {"LOG_LEVEL": "info"}
    ok("one key slot without an ARN (a single-key file)", [kms(None, file_ctx, wrapped)], plain, covered)
    _, two_text, two_sealed = ok(
        "two key slots with ARNs and their own contexts",
        [kms(ENVSEAL_ARN, file_ctx, wrapped), kms(AWS_ARN, lambda_ctx, aws_wrapped)], plain, covered)
    ok("a key slot and a recipient slot",
       [kms(ENVSEAL_ARN, file_ctx, wrapped), recipient(RECOVERY_SK, sealed_dk)], plain, covered)
    ok("a recipient slot only", [recipient(RECOVERY_SK, sealed_dk)], {"TOKEN": "t0k3n"}, {})
    ok("the same key twice with two contexts",
       [kms(ENVSEAL_ARN, file_ctx, wrapped), kms(ENVSEAL_ARN, lambda_ctx, aws_wrapped)], plain, {})

    # -- a slot changed, removed or added without re-MACing: the MAC covers every slot --
    entries = file_entries(two_sealed, covered)
    two = header_parse(two_text)
    mac = two["mac"]
    tagged_body_tail = two["body"][two["body"].index(u16(len(entries)) + u8(entries[0][0]) + u8(len(entries[0][1])) + entries[0][1]):]

    def forged(slot_bytes):
        return b64u_encode(u8(2) + u8(0) + u8(len(slot_bytes)) + b"".join(slot_bytes) + tagged_body_tail + mac)

    s1 = slot_kms(ENVSEAL_ARN.encode(), ctx_b, wrapped)
    s2 = slot_kms(AWS_ARN.encode(), context_encode(lambda_ctx), aws_wrapped)
    assert forged([s1, s2]) == two_text
    fail("a slot's wrapped key changed without re-MACing",
         forged([s1, slot_kms(AWS_ARN.encode(), context_encode(lambda_ctx), flip(aws_wrapped, 60))]),
         two_sealed, covered, "header mac mismatch")
    fail("a slot removed without re-MACing", forged([s1]), two_sealed, covered, "header mac mismatch")
    fail("a recipient slot added without re-MACing",
         forged([s1, s2, slot_recipient(other_pk, box_seal(DK_HEADER, other_pk, fixed("eph", 32)))]),
         two_sealed, covered, "header mac mismatch")
    fail("two slots swapped without re-MACing", forged([s2, s1]), two_sealed, covered, "header mac mismatch")
    fail("a slot's ARN changed without re-MACing",
         forged([slot_kms(AWS_ARN.encode(), ctx_b, wrapped), s2]), two_sealed, covered, "header mac mismatch")
    fail("a covered value changed in a two-slot file", two_text, two_sealed, {"LOG_LEVEL": "debug"},
         "changed variable", "LOG_LEVEL")

    # -- parse failures --
    e_ok = [(0, b"A", b"\x00" * 16), (1, b"B", b"plain")]
    r1 = slot_recipient(recipient_pk, sealed_dk)

    def build(slots, **kw):
        return b64u_encode(header_v2_build(DK_HEADER, slots, e_ok, **kw))

    full = header_v2_build(DK_HEADER, [s1, r1], e_ok)
    header_parse(b64u_encode(full))
    parse_fail("zero slots", build([]), "invalid field")
    parse_fail("unknown slot kind 2", build([s1, u8(2) + b"\x00" * 40]), "invalid field")
    parse_fail("header flags set", build([s1], flags=0x01), "invalid field")
    parse_fail("unknown slot flag bit 0x02", build([slot_kms(None, ctx_b, wrapped, flags=0x02)]), "invalid field")
    parse_fail("empty ARN in a slot", build([slot_kms(b"", ctx_b, wrapped)]), "invalid field")
    parse_fail("empty wrapped key in a slot", build([slot_kms(None, ctx_b, b"")]), "invalid field")
    parse_fail("duplicate key slot: same ARN and context", build([s1, r1, s1]), "invalid field")
    parse_fail("duplicate recipient slot", build([r1, s1, r1]), "invalid field")
    parse_fail("invalid context in a slot", build([slot_kms(None, b"\x00\x00", wrapped)]), "invalid context")
    parse_fail("slot count larger than the slots: the entries read as a bad slot", build([s1], count=2),
               "invalid field")
    parse_fail("truncated inside a recipient slot", b64u_encode(full[:3 + len(s1) + 1 + 32 + 40]), "truncated")
    parse_fail("truncated after the slot count", b64u_encode(full[:3]), "truncated")
    parse_fail("truncated inside the MAC", b64u_encode(full[:-5]), "truncated")
    parse_fail("trailing bytes after a version 2 header", b64u_encode(full + b"\x00"), "trailing bytes")
    return cases


def render(cases):
    names = [c["name"] for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"duplicate case names: {sorted(dupes)}"
    return json.dumps(cases, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a vector file differs from what would be written")
    args = parser.parse_args()

    check_published_vectors()

    sealed_cases, api_overhead, pw_overhead = sealed_value_vectors()
    header_cases, measured = header_vectors()
    outputs = {
        "context.json": render(context_vectors()),
        "blob.json": render(blob_vectors()),
        "sealed-value.json": render(sealed_cases),
        "header.json": render(header_cases),
        "header-v2.json": render(header_v2_vectors()),
        "recovery.json": render(recovery_vectors.recovery_vectors({
            "aead_encrypt": aead_encrypt, "aead_decrypt": aead_decrypt, "blake2b_parts": blake2b_parts,
            "b64u_encode": b64u_encode, "b64u_decode": b64u_decode, "fixed": fixed, "flip": flip})),
    }

    stale = []
    for filename, text in outputs.items():
        path = os.path.join(VECTOR_DIR, filename)
        if args.check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(filename)
            except FileNotFoundError:
                stale.append(filename)
        else:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
        print(f"{filename}: {len(json.loads(text))} cases")
    print(f"file context {{\"envseal:file\":\"app.env\"}}: {measured['file_context_bytes']} bytes")
    print(f"10-variable header (version 1): {measured['ten_bytes']} bytes, {measured['ten_chars']} base64url "
          f"characters (+ 8 for 'ENVSEAL=')")
    print(f"sealed-value overhead: 40-character API key +{api_overhead}, "
          f"16-character password +{pw_overhead}")
    if stale:
        print("stale: " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
