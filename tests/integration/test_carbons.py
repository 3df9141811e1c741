"""XEP-0280 message carbons and XEP-0297 forwarding, unlabelled, on every
target: copies of received and sent chat messages reach the account's other
resources that enabled carbons, and only those; <private/> with <no-copy/>
keeps a message out of the copies (XEP-0334 hint, XEP-0280 §6)."""

import asyncio
import xml.etree.ElementTree as ET

from client import NS_CLIENT, Client, login_all, logout_all, run

NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_HINTS = "urn:xmpp:hints"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"


async def enable_carbons(c):
    iq = c.Iq(stype="set")
    iq.append(ET.Element("{%s}enable" % NS_CARBONS))
    resp = await iq.send(timeout=15)
    assert resp["type"] == "result"


def carbon(direction, body):
    """Matches a carbon copy (received or sent) whose forwarded message
    has this body; the wrapper must come from the account's bare JID."""
    def match(m):
        x = m.xml.find("{%s}%s" % (NS_CARBONS, direction))
        if x is None:
            return False
        fwd = x.find("{%s}forwarded" % NS_FORWARD)
        if fwd is None:
            return False
        inner = fwd.find("{%s}message" % NS_CLIENT)
        if inner is None:
            return False
        b = inner.find("{%s}body" % NS_CLIENT)
        return b is not None and b.text == body
    return match


def test_carbons_copy_received_and_sent_to_enabled_resources(server, new_user):
    (ja, pa), (jb, pb) = new_user("carbon"), new_user("peer")

    async def scenario():
        a1 = Client(server, ja, pa, "desk")
        a2 = Client(server, ja, pa, "phone")
        a3 = Client(server, ja, pa, "old")       # carbons not enabled
        b = Client(server, jb, pb, "b")
        await login_all(a1, a2, a3, b)
        try:
            info = await a1.iq_get(server.domain, NS_DISCO_INFO)
            feats = {f.get("var") for f in
                     info.xml.iter("{%s}feature" % NS_DISCO_INFO)}
            assert NS_CARBONS in feats
            await enable_carbons(a1)
            await enable_carbons(a2)

            # Received: b -> a1's full JID; a2 gets a received carbon.
            b.chat(ja + "/desk", "to the desk")
            await a1.expect_body("to the desk")
            m = await a2.messages.wait(carbon("received", "to the desk"),
                                       what="received carbon")
            assert m["from"].full == ja, "carbon wrapper not from the bare JID"
            inner = m.xml.find(".//{%s}forwarded/{%s}message"
                               % (NS_FORWARD, NS_CLIENT))
            assert inner.get("from") == jb + "/b"

            # Sent: a1 -> b; a2 gets a sent carbon, b the message.
            a1.chat(jb + "/b", "from the desk")
            await b.expect_body("from the desk")
            m = await a2.messages.wait(carbon("sent", "from the desk"),
                                       what="sent carbon")
            assert m["from"].full == ja

            # Private: no copy anywhere but the addressed resource.
            msg = b.make_message(mto=ja + "/desk", mbody="private one",
                                 mtype="chat")
            msg.xml.append(ET.Element("{%s}private" % NS_CARBONS))
            msg.xml.append(ET.Element("{%s}no-copy" % NS_HINTS))
            msg.send()
            await a1.expect_body("private one")
            # A later ordinary message is copied: once it is, the private
            # one would have been copied before it had it been copied at all.
            b.chat(ja + "/desk", "public again")
            await a2.messages.wait(carbon("received", "public again"),
                                   what="received carbon")
            assert not a2.messages.find(carbon("received", "private one"))

            # The resource that did not enable carbons got no copy at all.
            await asyncio.sleep(0.3)
            copies = [m for m in a3.messages.items
                      if m.xml.find("{%s}received" % NS_CARBONS) is not None
                      or m.xml.find("{%s}sent" % NS_CARBONS) is not None]
            assert copies == [], "carbons reached a resource that did not enable them"
        finally:
            await logout_all(a1, a2, a3, b)
    run(scenario())


def test_carbons_disable_stops_copies(server, new_user):
    (ja, pa), (jb, pb) = new_user("carbon"), new_user("peer")

    async def scenario():
        a1 = Client(server, ja, pa, "desk")
        a2 = Client(server, ja, pa, "phone")
        b = Client(server, jb, pb, "b")
        await login_all(a1, a2, b)
        try:
            await enable_carbons(a2)
            b.chat(ja + "/desk", "copied")
            await a2.messages.wait(carbon("received", "copied"),
                                   what="received carbon")
            iq = a2.Iq(stype="set")
            iq.append(ET.Element("{%s}disable" % NS_CARBONS))
            assert (await iq.send(timeout=15))["type"] == "result"
            b.chat(ja + "/desk", "not copied")
            await a1.expect_body("not copied")
            # a2 still gets messages addressed to it, in order, after that.
            b.chat(ja + "/phone", "direct to phone")
            await a2.expect_body("direct to phone")
            assert not a2.messages.find(carbon("received", "not copied"))
        finally:
            await logout_all(a1, a2, b)
    run(scenario())
