"""Login, messaging, service discovery and the small server services."""

import asyncio
import datetime

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
