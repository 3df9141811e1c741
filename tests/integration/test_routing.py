"""Server rules for stanzas to local users (RFC 6121 §8.5)."""

import asyncio

from client import Client, login_all, logout_all, run

NS_PING = "urn:xmpp:ping"
NS_VERSION = "jabber:iq:version"


async def settle(c, server):
    """A ping round trip: everything c sent before has been processed."""
    await c.iq_get(server.domain, NS_PING, "ping")


def test_message_to_unknown_resource_falls_back_to_bare_jid(server, new_user):
    # §8.5.3.2.1: a chat or normal message to a full JID with no matching
    # resource is handled as if sent to the bare JID: another available
    # resource gets it.
    (ja, pa), (jb, pb) = new_user("sender"), new_user("multi")

    async def scenario():
        a = Client(server, ja, pa, "a")
        b = Client(server, jb, pb, "home")
        await login_all(a, b)
        try:
            a.chat(jb + "/gone", "to a resource that left", mtype="chat")
            m = await b.expect_body("to a resource that left")
            assert str(m["from"]) == ja + "/a"
            a.chat(jb + "/gone", "normal one", mtype="normal")
            m = await b.expect_body("normal one")
            assert str(m["from"]) == ja + "/a"
            assert not a.messages.find(lambda m: m["type"] == "error")
        finally:
            await logout_all(a, b)
    run(scenario())


def test_iq_to_missing_full_jid_is_service_unavailable(server, new_user):
    # §8.5.3.2.1 (IQ): no matching resource -> <service-unavailable/>.
    (ja, pa), (jb, pb) = new_user("asker"), new_user("online")

    async def scenario():
        a = Client(server, ja, pa, "a")
        b = Client(server, jb, pb, "here")
        await login_all(a, b)
        try:
            etype, cond = await a.iq_error(jb + "/elsewhere", NS_VERSION)
            assert (etype, cond) == ("cancel", "service-unavailable")
            # The same iq to the resource that exists is delivered and the
            # answer routed back from that full JID.
            resp = await a.iq_get(jb + "/here", NS_VERSION)
            assert resp["type"] == "result"
            assert str(resp["from"]) == jb + "/here"
        finally:
            await logout_all(a, b)
    run(scenario())


def test_stanzas_to_unknown_user(server, new_user):
    # §8.5.1: no such user.  IQ: <service-unavailable/>.  Message: ignore it
    # or <service-unavailable/> (both allowed; nothing else).
    ja, pa = new_user("lonely")
    ghost = "nobody-here@%s" % server.domain

    async def scenario():
        a = Client(server, ja, pa, "a")
        await a.login()
        try:
            for to in (ghost, ghost + "/res"):
                etype, cond = await a.iq_error(to, NS_VERSION)
                assert (etype, cond) == ("cancel", "service-unavailable"), to
            a.chat(ghost, "into the void")
            a.chat(ghost + "/res", "into the void too")
            await settle(a, server)
            await asyncio.sleep(0.3)
            errors = a.messages.find(lambda m: m["type"] == "error")
            for e in errors:
                assert e["error"]["condition"] == "service-unavailable", str(e)
                assert e["from"].bare == ghost
            # Nothing but errors came back.
            assert all(m["type"] == "error" for m in a.messages.items)
        finally:
            await a.logout()
    run(scenario())


def test_message_to_bare_jid_follows_priorities(server, new_user):
    # §8.5.2.1.1: to the bare JID, the highest-priority resource gets the
    # message (most available, or all non-negative); a negative-priority
    # resource never gets it.
    (ja, pa), (jb, pb) = new_user("caller"), new_user("prio")

    async def scenario():
        a = Client(server, ja, pa, "a")
        hi = Client(server, jb, pb, "high")
        neg = Client(server, jb, pb, "negative")
        await login_all(a)
        await hi.login(presence=False)
        await neg.login(presence=False)
        try:
            hi.send_presence(ppriority=5)
            neg.send_presence(ppriority=-1)
            await settle(hi, server)
            await settle(neg, server)
            a.chat(jb, "for the best resource")
            m = await hi.expect_body("for the best resource")
            assert str(m["from"]) == ja + "/a"
            a.chat(jb + "/high", "marker")
            await hi.expect_body("marker")
            await settle(neg, server)
            assert not neg.messages.find(lambda m: m["body"]), \
                [str(m) for m in neg.messages.items]
            # A full JID reaches even a negative-priority resource.
            a.chat(jb + "/negative", "direct to negative")
            await neg.expect_body("direct to negative", ja + "/a")
        finally:
            await logout_all(a, hi, neg)
    run(scenario())
