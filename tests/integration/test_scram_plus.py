"""SCRAM-SHA-*-PLUS (RFC 5802 channel binding): tls-exporter on TLS 1.3
(RFC 9266) and tls-unique on TLS 1.2 (RFC 5929), advertised with XEP-0440.

The client here is a SCRAM implementation of its own over a raw stream, so
that it can send a wrong binding or a stripped-down flag.  Python's ssl has
no keying-material exporter; tls_exporter() calls OpenSSL's
SSL_export_keying_material through ctypes on the very SSL object of the
Python socket (found in the _ssl object and checked by asking OpenSSL for
that object's TLS version).  Debian's slixmpp does the TLS 1.2 case as a
real client.
"""

import asyncio
import base64
import ctypes
import hashlib
import hmac
import os
import ssl
import _ssl

import pytest

from client import (NS_BIND, NS_SASL, NS_STREAM, Client, RawStream,
                    local_part, run)

NS_SASL_CB = "urn:xmpp:sasl-cb:0"
HASHES = {"SCRAM-SHA-1": hashlib.sha1, "SCRAM-SHA-256": hashlib.sha256}

# ------------------------------------------------------------ TLS exporter

_lib = ctypes.CDLL(_ssl.__file__)     # resolves libssl as _ssl links it
_lib.SSL_get_version.restype = ctypes.c_char_p
_lib.SSL_get_version.argtypes = [ctypes.c_void_p]
_lib.SSL_export_keying_material.restype = ctypes.c_int
_lib.SSL_export_keying_material.argtypes = [
    ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
    ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def tls_exporter(sock):
    """RFC 9266 tls-exporter of an ssl.SSLSocket: 32 bytes, label
    EXPORTER-Channel-Binding, no context."""
    # CPython's PySSLSocket: PyObject_HEAD (16 bytes), Socket, then SSL *.
    ptr = ctypes.c_void_p.from_address(id(sock._sslobj) + 24).value
    assert ptr and _lib.SSL_get_version(ptr).decode() == sock.version(), \
        "could not find the SSL object of the Python socket"
    out = ctypes.create_string_buffer(32)
    label = b"EXPORTER-Channel-Binding"
    assert _lib.SSL_export_keying_material(ptr, out, 32, label, len(label),
                                           None, 0, 0) == 1
    return out.raw


# ------------------------------------------------------------ SCRAM client

def b64(data):
    return base64.b64encode(data).decode()


def scram_login(s, mech, user, password, flag, cb_data=b""):
    """One SCRAM exchange; returns ("success", verified) or (condition,
    None).  flag is the gs2 flag: "n", "y" or "p=TYPE"."""
    hname = mech[:-5] if mech.endswith("-PLUS") else mech
    h = HASHES[hname]
    cnonce = b64(os.urandom(18))
    bare = "n=%s,r=%s" % (user, cnonce)
    gs2 = "%s,," % flag
    s.send("<auth xmlns='%s' mechanism='%s'>%s</auth>"
           % (NS_SASL, mech, b64((gs2 + bare).encode())))
    el = s.wait(lambda e: e.tag.split("}")[1] in ("challenge", "failure", "success")
                and e.tag.startswith("{%s}" % NS_SASL), what="SASL answer")
    if not el.tag.endswith("}challenge"):
        return outcome(el)
    first = base64.b64decode(el.text).decode()
    attrs = dict(kv.split("=", 1) for kv in first.split(","))
    assert attrs["r"].startswith(cnonce)
    salted = hashlib.pbkdf2_hmac(hname[6:].replace("-", "").lower(), password.encode(),
                                 base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", h).digest()
    stored = h(client_key).digest()
    final_wo = "c=%s,r=%s" % (b64(gs2.encode() + cb_data), attrs["r"])
    auth_msg = ("%s,%s,%s" % (bare, first, final_wo)).encode()
    sig = hmac.new(stored, auth_msg, h).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    s.send("<response xmlns='%s'>%s</response>"
           % (NS_SASL, b64(("%s,p=%s" % (final_wo, b64(proof))).encode())))
    el = s.wait(lambda e: e.tag in ("{%s}success" % NS_SASL, "{%s}failure" % NS_SASL),
                what="SASL outcome")
    if el.tag.endswith("}failure"):
        return outcome(el)
    server_key = hmac.new(salted, b"Server Key", h).digest()
    want = b64(hmac.new(server_key, auth_msg, h).digest())
    got = base64.b64decode(el.text).decode()
    return "success", got == "v=" + want


def outcome(el):
    if el.tag.endswith("}success"):
        return "success", None
    for child in el:
        if not child.tag.endswith("}text"):
            return child.tag.split("}", 1)[1], None
    return "failure without condition", None


def open_tls(server, tls12=False):
    """A raw stream after STARTTLS; returns (stream, features)."""
    s = RawStream(server)
    ctx = s.tls_context()
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    s.context = ctx
    feats = s.starttls()
    return s, feats


def mechanisms(feats):
    return [m.text for m in feats.iter("{%s}mechanism" % NS_SASL)]


def cb_types(feats):
    return [c.get("type") for c in feats.iter("{%s}channel-binding" % NS_SASL_CB)]


def bind_after_success(s):
    s.open_stream()
    s.wait_tag(NS_STREAM, "features")
    s.send("<iq type='set' id='b1'><bind xmlns='%s'/></iq>" % NS_BIND)
    iq = s.wait(lambda e: e.get("id") == "b1", what="bind result")
    assert iq.get("type") == "result"


# ------------------------------------------------------------ TLS 1.3

@pytest.mark.liaison_only
def test_plus_offered_on_tls13_with_tls_exporter(server):
    # Prosody 0.12 knows only tls-unique and offers no -PLUS on TLS 1.3.
    s, feats = open_tls(server)
    try:
        assert s.sock.version() == "TLSv1.3"
        mechs = mechanisms(feats)
        assert mechs[:2] == ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"], mechs
        assert "SCRAM-SHA-256" in mechs and "SCRAM-SHA-1" in mechs
        assert cb_types(feats) == ["tls-exporter"]
    finally:
        s.close()


def test_plus_not_offered_before_tls(server):
    s = RawStream(server)
    try:
        s.open_stream()
        feats = s.wait_tag(NS_STREAM, "features")
        assert not [m for m in mechanisms(feats) if m.endswith("-PLUS")]
        assert cb_types(feats) == []
    finally:
        s.close()


@pytest.mark.liaison_only
@pytest.mark.parametrize("mech", ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"])
def test_plus_login_tls_exporter(server, new_user, mech):
    jid, pw = new_user("plus")
    s, _ = open_tls(server)
    try:
        res = scram_login(s, mech, local_part(jid), pw, "p=tls-exporter",
                          tls_exporter(s.sock))
        assert res == ("success", True), res
        bind_after_success(s)
    finally:
        s.close()


@pytest.mark.liaison_only
def test_plus_login_direct_tls(server, new_user):
    # XEP-0368 direct TLS: the binding is the same connection's.
    jid, pw = new_user("plus")
    s = RawStream(server, port=server.tls_port)
    try:
        s.wrap_direct_tls()
        s.sock.settimeout(s.timeout)
        s.open_stream()
        feats = s.wait_tag(NS_STREAM, "features")
        assert "SCRAM-SHA-256-PLUS" in mechanisms(feats)
        assert cb_types(feats) == ["tls-exporter"]
        res = scram_login(s, "SCRAM-SHA-256-PLUS", local_part(jid), pw,
                          "p=tls-exporter", tls_exporter(s.sock))
        assert res == ("success", True), res
    finally:
        s.close()


@pytest.mark.liaison_only
def test_plus_wrong_tls_exporter_refused(server, new_user):
    jid, pw = new_user("plus")
    s, _ = open_tls(server)
    try:
        cb = bytearray(tls_exporter(s.sock))
        cb[0] ^= 1          # what a man in the middle's own TLS would give
        res = scram_login(s, "SCRAM-SHA-256-PLUS", local_part(jid), pw,
                          "p=tls-exporter", bytes(cb))
        assert res == ("not-authorized", None), res
        # The right binding on the same stream still works.
        res = scram_login(s, "SCRAM-SHA-256-PLUS", local_part(jid), pw,
                          "p=tls-exporter", tls_exporter(s.sock))
        assert res == ("success", True), res
    finally:
        s.close()


@pytest.mark.liaison_only
def test_tls_unique_on_tls13_refused(server, new_user):
    # RFC 9266: tls-unique is not defined for TLS 1.3.
    jid, pw = new_user("plus")
    s, _ = open_tls(server)
    try:
        res = scram_login(s, "SCRAM-SHA-256-PLUS", local_part(jid), pw,
                          "p=tls-unique", s.sock.get_channel_binding("tls-unique"))
        assert res[0] != "success", res
    finally:
        s.close()


@pytest.mark.liaison_only
def test_y_flag_refused_when_plus_offered_tls13(server, new_user):
    # RFC 5802 6: 'y' (client binds, thinks the server cannot) while -PLUS
    # was offered means someone removed it from the list.
    jid, pw = new_user("plus")
    s, _ = open_tls(server)
    try:
        res = scram_login(s, "SCRAM-SHA-256", local_part(jid), pw, "y")
        assert res == ("not-authorized", None), res
    finally:
        s.close()


def test_n_flag_plain_scram_still_works(server, new_user):
    jid, pw = new_user("plus")
    s, _ = open_tls(server)
    try:
        res = scram_login(s, "SCRAM-SHA-256", local_part(jid), pw, "n")
        assert res == ("success", True), res
        bind_after_success(s)
    finally:
        s.close()


# ------------------------------------------------------------ TLS 1.2

def test_plus_offered_on_tls12_with_tls_unique(server):
    s, feats = open_tls(server, tls12=True)
    try:
        assert s.sock.version() == "TLSv1.2"
        mechs = mechanisms(feats)
        assert "SCRAM-SHA-256-PLUS" in mechs, mechs
        if server.name == "liaison":
            # Prosody's password_hash = SHA-256 offers no SCRAM-SHA-1.
            assert "SCRAM-SHA-1-PLUS" in mechs, mechs
            assert cb_types(feats) == ["tls-unique"]
    finally:
        s.close()


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"])
def test_plus_login_tls_unique(server, new_user, mech):
    jid, pw = new_user("plus")
    s, feats = open_tls(server, tls12=True)
    try:
        if mech not in mechanisms(feats):
            # Prosody with password_hash = SHA-256 has no SCRAM-SHA-1.
            assert server.name == "prosody", mechanisms(feats)
            pytest.skip("%s does not offer %s" % (server.name, mech))
        res = scram_login(s, mech, local_part(jid), pw, "p=tls-unique",
                          s.sock.get_channel_binding("tls-unique"))
        assert res == ("success", True), res
        bind_after_success(s)
    finally:
        s.close()


def test_plus_wrong_tls_unique_refused(server, new_user):
    jid, pw = new_user("plus")
    s, _ = open_tls(server, tls12=True)
    try:
        cb = bytearray(s.sock.get_channel_binding("tls-unique"))
        cb[-1] ^= 0x80
        res = scram_login(s, "SCRAM-SHA-256-PLUS", local_part(jid), pw,
                          "p=tls-unique", bytes(cb))
        assert res[0] != "success", res
    finally:
        s.close()


def test_y_flag_refused_when_plus_offered_tls12(server, new_user):
    # Prosody answers malformed-request, Liaison not-authorized: both fail.
    jid, pw = new_user("plus")
    s, _ = open_tls(server, tls12=True)
    try:
        res = scram_login(s, "SCRAM-SHA-256", local_part(jid), pw, "y")
        assert res[0] in ("not-authorized", "malformed-request"), res
    finally:
        s.close()


def test_slixmpp_logs_in_with_plus_on_tls12(server, new_user):
    """A real client: Debian's slixmpp binds with tls-unique on TLS 1.2 and
    picks the best -PLUS mechanism offered."""
    jid, pw = new_user("plus")

    async def scenario():
        c = Client(server, jid, pw, "plus")
        c.ssl_context.maximum_version = ssl.TLSVersion.TLSv1_2
        await c.login()
        try:
            assert c.tls_version == "TLSv1.2"
            assert c.mech_used.startswith("SCRAM-") and \
                c.mech_used.endswith("-PLUS"), c.mech_used
            if server.name == "liaison":
                assert c.mech_used == "SCRAM-SHA-256-PLUS"
        finally:
            await c.logout()
    run(scenario())
