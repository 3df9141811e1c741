"""Rosters, subscriptions and presence (RFC 6121 §2-4)."""

import xml.etree.ElementTree as ET

from client import Client, login_all, logout_all, run

NS_ROSTER = "jabber:iq:roster"


def ptype(p):
    """The raw 'type' attribute (None for available presence)."""
    return p.xml.get("type")


def presence_from(jid, typ=None, full=False):
    def match(p):
        who = str(p["from"]) if full else p["from"].bare
        return who == jid and ptype(p) == typ
    return match


async def roster_add(c, jid, name, group):
    iq = c.Iq(stype="set")
    q = ET.Element("{%s}query" % NS_ROSTER)
    item = ET.SubElement(q, "{%s}item" % NS_ROSTER, jid=jid, name=name)
    ET.SubElement(item, "{%s}group" % NS_ROSTER).text = group
    iq.append(q)
    resp = await iq.send(timeout=15)
    assert resp["type"] == "result"


def send_presence(c, to=None, typ=None, status=None, show=None):
    p = c.make_presence(pto=to, ptype=typ, pstatus=status, pshow=show)
    p.send()


async def subscribe_both_ways(a, b, ja, jb):
    await roster_add(a, jb, "Bob", "Friends")
    send_presence(a, jb, "subscribe")
    req = await b.presences.wait(presence_from(ja, "subscribe"), what="subscribe from a")
    assert str(req["to"]).split("/")[0] == jb
    send_presence(b, ja, "subscribed")
    await a.presences.wait(presence_from(jb, "subscribed"), what="subscribed from b")
    # Approval: b's current presence is sent to a (RFC 6121 §3.1.6).
    await a.presences.wait(presence_from(str(b.boundjid), None, full=True),
                           what="b's presence after approval")

    send_presence(b, ja, "subscribe")
    await a.presences.wait(presence_from(jb, "subscribe"), what="subscribe from b")
    send_presence(a, jb, "subscribed")
    await b.presences.wait(presence_from(ja, "subscribed"), what="subscribed from a")
    await b.presences.wait(presence_from(str(a.boundjid), None, full=True),
                           what="a's presence after approval")


def test_subscription_handshake_gives_both_and_presence_flows(server, new_user):
    (ja, pa), (jb, pb) = new_user("romeo"), new_user("juliet")

    async def scenario():
        a = Client(server, ja, pa, "orchard")
        b = Client(server, jb, pb, "balcony")
        await login_all(a, b)
        try:
            await subscribe_both_ways(a, b, ja, jb)

            ra, rb = await a.roster_items(), await b.roster_items()
            assert ra[jb]["subscription"] == "both", ra
            assert ra[jb]["name"] == "Bob"
            assert "Friends" in ra[jb]["groups"]
            assert rb[ja]["subscription"] == "both", rb

            # Presence broadcast to a subscribed contact.
            send_presence(a, status="by the wall", show="away")
            p = await b.presences.wait(
                lambda p: str(p["from"]) == str(a.boundjid) and p["status"] == "by the wall",
                what="a's broadcast")
            assert p["show"] == "away"

            # b sets a status, then a leaves and comes back: b sees a go and
            # come; the new a gets b's current presence (probe answered).
            send_presence(b, status="wherefore art thou", show="dnd")
            await a.presences.wait(
                lambda p: str(p["from"]) == str(b.boundjid) and p["status"] == "wherefore art thou",
                what="b's broadcast")
            await a.logout()
            await b.presences.wait(presence_from(str(a.boundjid), "unavailable", full=True),
                                   what="a's unavailable")

            a2 = Client(server, ja, pa, "garden")
            await a2.login()
            try:
                p = await a2.presences.wait(
                    lambda p: str(p["from"]) == str(b.boundjid) and ptype(p) is None,
                    what="b's presence after a's login (probe)")
                assert p["status"] == "wherefore art thou"
                assert p["show"] == "dnd"
                await b.presences.wait(presence_from(ja + "/garden", None, full=True),
                                       what="a's initial presence")
                # The roster survives the session.
                ra = await a2.roster_items()
                assert ra[jb]["subscription"] == "both"
            finally:
                await a2.logout()
        finally:
            await logout_all(a, b)
    run(scenario())


def test_no_presence_without_subscription(server, new_user):
    (ja, pa), (jb, pb), (jc, pc) = new_user("pub"), new_user("friend"), new_user("stranger")

    async def scenario():
        a = Client(server, ja, pa, "r")
        b = Client(server, jb, pb, "r")
        c = Client(server, jc, pc, "r")
        await login_all(a, b, c)
        try:
            await subscribe_both_ways(a, b, ja, jb)
            send_presence(a, status="only for friends")
            await b.presences.wait(
                lambda p: p["from"].bare == ja and p["status"] == "only for friends")
            # c is not subscribed: a ping round-trip through c's session
            # after b got it, and still nothing from a at c.
            await c.iq_get(server.domain, "urn:xmpp:ping", "ping")
            assert not c.presences.find(lambda p: p["from"].bare == ja), \
                [str(p) for p in c.presences.items]
            rc = await c.roster_items()
            assert ja not in rc
        finally:
            await logout_all(a, b, c)
    run(scenario())
