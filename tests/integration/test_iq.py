"""IQ semantics of RFC 6120 §8.2.3 over a raw stream: a request needs an
id, a valid type and exactly one payload; a malformed request gets
bad-request (the stream stays open), and a response nobody asked for is
never answered.

"Never answered" is shown by order, not by waiting: the server handles a
stream's stanzas in order, so an answer to the stanza under test would
arrive before the answer to the ping sent right after it.
"""

import pytest

from client import NS_CLIENT, RawStream, local_part, stanza_error

NS_PING = "urn:xmpp:ping"


def raw_user(server, new_user, resource="raw"):
    jid, pw = new_user("iq")
    s = RawStream(server)
    s.login(local_part(jid), pw, resource)
    return s


def is_iq(el):
    return el.tag == "{%s}iq" % NS_CLIENT


def ping_fence(s, tag):
    """Sends a ping and returns the iq elements that arrived before its
    result (the answers, if any, to what was sent before)."""
    s.send("<iq type='get' id='%s'><ping xmlns='%s'/></iq>" % (tag, NS_PING))
    seen = []

    def pred(el):
        if is_iq(el) and el.get("id") == tag:
            return True
        if is_iq(el) and el.get("id") != "sess1":   # RawStream.login's
            seen.append(el)
        return False
    res = s.wait(pred, what="ping result %s" % tag)
    assert res.get("type") == "result", "ping %s: %s" % (tag, res.attrib)
    # Elements that arrived with the ping result but before it.
    return seen


def expect_bad_request(s, stanza, id_=None):
    s.send(stanza)
    if id_ is None:
        el = s.wait(lambda e: is_iq(e) and e.get("id") is None,
                    what="error iq without id")
    else:
        el = s.wait(lambda e: is_iq(e) and e.get("id") == id_,
                    what="error iq %s" % id_)
    assert el.get("type") == "error", el.attrib
    assert stanza_error(el) == "bad-request", stanza_error(el)
    # The stream is still usable: the error was for that stanza only.
    assert ping_fence(s, "fence") == []
    return el


@pytest.mark.parametrize("iq_type", ["get", "set"])
def test_request_without_id_bad_request(server, new_user, iq_type):
    s = raw_user(server, new_user)
    try:
        expect_bad_request(s, "<iq type='%s'><ping xmlns='%s'/></iq>"
                           % (iq_type, NS_PING))
    finally:
        s.close()


def test_invalid_type_bad_request(server, new_user):
    s = raw_user(server, new_user)
    try:
        expect_bad_request(s, "<iq type='fetch' id='t1'><ping xmlns='%s'/></iq>"
                           % NS_PING, "t1")
    finally:
        s.close()


def test_missing_type_bad_request(server, new_user):
    s = raw_user(server, new_user)
    try:
        expect_bad_request(s, "<iq id='t2'><ping xmlns='%s'/></iq>" % NS_PING, "t2")
    finally:
        s.close()


@pytest.mark.parametrize("payload", [
    "",
    "<ping xmlns='%s'/><query xmlns='jabber:iq:version'/>" % NS_PING,
], ids=["no-child", "two-children"])
@pytest.mark.parametrize("iq_type", ["get", "set"])
def test_request_payload_count_bad_request(server, new_user, iq_type, payload):
    s = raw_user(server, new_user)
    try:
        expect_bad_request(s, "<iq type='%s' id='p1'>%s</iq>" % (iq_type, payload),
                           "p1")
    finally:
        s.close()


def test_unsolicited_responses_not_answered(server, new_user):
    s = raw_user(server, new_user)
    other = raw_user(server, new_user, "other")
    try:
        me = s.jid.split("/")[0]
        stanzas = [
            # to the server
            "<iq type='result' id='r1'/>",
            "<iq type='result' id='r2' to='%s'/>" % server.domain,
            "<iq type='error' id='r3' to='%s'><error type='cancel'>"
            "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
            % server.domain,
            # to the account itself
            "<iq type='result' id='r4' to='%s'/>" % me,
            # to a resource that does not exist and to another user's bare JID
            "<iq type='result' id='r5' to='%s/nobody'/>" % me,
            "<iq type='error' id='r6' to='%s'><error type='cancel'>"
            "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
            % other.jid.split("/")[0],
        ]
        for st in stanzas:
            s.send(st)
        answers = ping_fence(s, "fence")
        assert answers == [], "answered: %r" % [a.attrib for a in answers]
        # A response to a full JID that exists is delivered, not answered.
        s.send("<iq type='result' id='r7' to='%s'/>" % other.jid)
        got = other.wait(lambda e: is_iq(e) and e.get("id") == "r7",
                         what="routed result")
        assert got.get("type") == "result"
        assert ping_fence(s, "fence2") == []
    finally:
        s.close()
        other.close()


@pytest.mark.liaison_only
def test_response_without_id_not_answered(server, new_user):
    # RFC 6120 §8.3.1: an error is never answered with an error, and a
    # result without an id answers nothing.  Prosody 0.12 answers both
    # with bad-request (core/stanza_router.lua checks the id before it
    # looks at the type).
    s = raw_user(server, new_user)
    try:
        s.send("<iq type='result'/>")
        s.send("<iq type='error'><error type='cancel'>"
               "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
               "</error></iq>")
        answers = ping_fence(s, "fence")
        assert answers == [], "answered: %r" % [a.attrib for a in answers]
    finally:
        s.close()
