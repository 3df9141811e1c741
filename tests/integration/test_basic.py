"""Login, messaging, service discovery and the small server services."""

import asyncio
import datetime
import re

import pytest

from client import Client, login_all, logout_all, run

NS_PING = "urn:xmpp:ping"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_VERSION = "jabber:iq:version"
NS_TIME = "urn:xmpp:time"


def test_two_users_scram_sha256_exchange_messages(server, new_user):
    (ja, pa), (jb, pb) = new_user("alice"), new_user("bob")

    async def scenario():
        a = Client(server, ja, pa, "phone", mech="SCRAM-SHA-256")
        b = Client(server, jb, pb, "laptop", mech="SCRAM-SHA-256")
        await login_all(a, b)
        try:
            assert a.mech_used == "SCRAM-SHA-256"
            assert b.mech_used == "SCRAM-SHA-256"
            assert a.tls_version in ("TLSv1.2", "TLSv1.3")
            assert str(a.boundjid) == ja + "/phone"
            a.chat(jb, "Hello Bob, this is Alice")
            m = await b.expect_body("Hello Bob, this is Alice")
            assert str(m["from"]) == ja + "/phone"
            assert m["to"].bare == jb
            b.chat(str(m["from"]), "Hi Alice <&> ünïcødé ✓")
            m = await a.expect_body("Hi Alice <&> ünïcødé ✓")
            assert str(m["from"]) == jb + "/laptop"
        finally:
            await logout_all(a, b)
    run(scenario())


def parse_stamp(stamp):
    """XEP-0082 DateTime -> aware datetime."""
    s = stamp.replace("Z", "+00:00")
    if "." in s:  # fractions of a second, any precision
        head, rest = s.split(".", 1)
        frac = re.match(r"\d*", rest).group(0)
        s = head + "." + (frac + "000000")[:6] + rest[len(frac):]
    return datetime.datetime.fromisoformat(s)


def test_service_discovery_ping_version_time(server, new_user):
    ja, pa = new_user("svc")

    async def scenario():
        a = Client(server, ja, pa, "probe")
        await a.login()
        try:
            resp = await a.iq_get(server.domain, NS_PING, "ping")
            assert resp["type"] == "result"
            assert str(resp["from"]) == server.domain

            resp = await a.iq_get(server.domain, NS_DISCO_INFO)
            assert resp["type"] == "result"
            features = set(resp["disco_info"]["features"])
            for ns in (NS_DISCO_INFO, NS_PING, NS_VERSION, NS_TIME):
                assert ns in features, "%s missing from %s" % (ns, sorted(features))
            idents = resp["disco_info"]["identities"]
            assert any(i[0] == "server" and i[1] == "im" for i in idents), idents

            resp = await a.iq_get(server.domain, NS_VERSION)
            assert resp["type"] == "result"
            assert resp["software_version"]["name"].strip()
            assert resp["software_version"]["version"].strip()

            before = datetime.datetime.now(datetime.timezone.utc)
            resp = await a.iq_get(server.domain, NS_TIME, "time")
            after = datetime.datetime.now(datetime.timezone.utc)
            t = resp.xml.find("{%s}time" % NS_TIME)
            utc, tzo = t.findtext("{%s}utc" % NS_TIME), t.findtext("{%s}tzo" % NS_TIME)
            assert utc and utc.endswith("Z"), utc
            assert tzo and (tzo == "Z" or tzo[0] in "+-"), tzo
            stamp = parse_stamp(utc)
            slack = datetime.timedelta(seconds=5)
            assert before - slack <= stamp <= after + slack, (utc, before, after)
        finally:
            await a.logout()
    run(scenario())


def test_offline_message_delivered_with_delay_at_login(server, new_user):
    (ja, pa), (jb, pb) = new_user("sender"), new_user("away")

    async def scenario():
        a = Client(server, ja, pa, "desk")
        await a.login()
        try:
            sent_at = datetime.datetime.now(datetime.timezone.utc)
            a.chat(jb, "while you were out", mtype="chat")
            a.chat(jb, "second note", mtype="normal")
            # The server handles a session's stanzas in order: once the ping
            # is answered, both messages have been processed.
            await a.iq_get(server.domain, NS_PING, "ping")
            b = Client(server, jb, pb, "back")
            await b.login()
            try:
                m1 = await b.expect_body("while you were out")
                m2 = await b.expect_body("second note")
                now = datetime.datetime.now(datetime.timezone.utc)
                for m in (m1, m2):
                    assert str(m["from"]) == ja + "/desk"
                    delay = m.xml.find("{urn:xmpp:delay}delay")
                    assert delay is not None, "no XEP-0203 delay: %s" % m
                    stamp = parse_stamp(delay.get("stamp"))
                    assert stamp.tzinfo is not None
                    slack = datetime.timedelta(seconds=5)
                    assert sent_at - slack <= stamp <= now + slack, (stamp, sent_at, now)
                # Delivered once: the store is emptied.
                assert len(b.messages.find(lambda m: m["body"] == "while you were out")) == 1
            finally:
                await b.logout()
            # Log in again: nothing is delivered twice.
            b2 = Client(server, jb, pb, "again")
            await b2.login()
            try:
                await b2.iq_get(server.domain, NS_PING, "ping")
                await asyncio.sleep(0.5)
                assert not b2.messages.find(lambda m: m["body"]), \
                    [str(m) for m in b2.messages.items]
            finally:
                await b2.logout()
        finally:
            await a.logout()
    run(scenario())


def test_direct_tls_login(server, new_user):
    (ja, pa), (jb, pb) = new_user("dtls"), new_user("stls")

    async def scenario():
        a = Client(server, ja, pa, "direct", direct_tls=True)
        b = Client(server, jb, pb, "starttls")
        await login_all(a, b)
        try:
            assert a.tls_version in ("TLSv1.2", "TLSv1.3")
            assert a.mech_used.startswith("SCRAM-") or a.mech_used == "PLAIN"
            a.chat(jb, "over direct TLS")
            m = await b.expect_body("over direct TLS")
            assert str(m["from"]) == ja + "/direct"
            b.chat(ja + "/direct", "back over STARTTLS")
            await a.expect_body("back over STARTTLS", jb + "/starttls")
        finally:
            await logout_all(a, b)
    run(scenario())


def test_wrong_password_is_refused(server, new_user):
    ja, pa = new_user("victim")

    async def scenario():
        bad = Client(server, ja, pa + "-wrong", "x", mech="SCRAM-SHA-256")
        try:
            await bad.login()
        except Exception as e:
            err = e
        else:
            await bad.logout()
            raise AssertionError("logged in with a wrong password")
        assert bad.auth_failures == ["not-authorized"], (bad.auth_failures, err)
        good = Client(server, ja, pa, "y", mech="SCRAM-SHA-256")
        await good.login()
        assert good.mech_used == "SCRAM-SHA-256"
        await good.logout()
    run(scenario())


def old_tls_context():
    """A client that offers only TLS 1.0/1.1 (weak ciphers allowed)."""
    import ssl
    import warnings
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


def test_tls_older_than_1_2_is_refused(server):
    import ssl
    from client import RawStream, StreamClosed
    for direct in (False, True):
        s = RawStream(server, server.tls_port if direct else server.c2s_port)
        s.context = old_tls_context()
        try:
            with pytest.raises((ssl.SSLError, OSError, StreamClosed)):
                if direct:
                    s.wrap_direct_tls()
                    s.open_stream()
                    s.wait_tag("http://etherx.jabber.org/streams", "features")
                else:
                    s.starttls()
        finally:
            s.close()


@pytest.mark.liaison_only
def test_liaison_dev_ca_verifies_server(server):
    # liaisond creates DATA/certs/ca.pem; a client trusting it verifies the
    # server certificate for the domain on both listeners.
    import ssl
    from client import RawStream
    assert server.ca_file, "liaisond created no development CA at DATA/certs/ca.pem"
    for port in (server.c2s_port, server.tls_port):
        s = RawStream(server, port)
        try:
            if port == server.tls_port:
                s.wrap_direct_tls()
                s.open_stream()
                s.wait_tag("http://etherx.jabber.org/streams", "features")
            else:
                s.starttls()
            assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
            cert = s.sock.getpeercert()
            names = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
            assert server.domain in names, names
        except ssl.SSLCertVerificationError as e:
            raise AssertionError("server certificate does not verify against %s: %s"
                                 % (server.ca_file, e))
        finally:
            s.close()
