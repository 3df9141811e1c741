"""Test clients: a slixmpp client with bounded waits, and a raw-socket client.

The slixmpp client is what a user runs (STARTTLS or direct TLS, SCRAM, roster,
presence).  The raw client speaks bytes, for input slixmpp cannot produce:
malformed XML, forged attributes, stanzas out of order.  Every wait here has
a timeout; nothing blocks forever.
"""

import asyncio
import base64
import re
import select
import socket
import ssl
import time
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_CLIENT = "jabber:client"
NS_STREAM = "http://etherx.jabber.org/streams"
NS_STREAM_ERR = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZA_ERR = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"

STEP = 15.0        # seconds allowed for one protocol step (login, reply)


class ClientError(Exception):
    pass


def run(coro, timeout=60):
    """Run one test coroutine with a hard bound on its total time."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


class Inbox:
    """Stanzas received, kept in order; wait until one matches."""

    def __init__(self):
        self.items = []
        self._cond = None

    def _c(self):
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    def push(self, item):
        self.items.append(item)

        async def notify():
            async with self._c():
                self._c().notify_all()
        asyncio.ensure_future(notify())

    async def wait(self, pred, timeout=STEP, what="stanza"):
        deadline = time.monotonic() + timeout
        seen = 0
        async with self._c():
            while True:
                for item in self.items[seen:]:
                    if pred(item):
                        return item
                seen = len(self.items)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ClientError("no %s after %.0fs; got %d other(s): %s" % (
                        what, timeout, len(self.items),
                        [str(i)[:300] for i in self.items[-5:]]))
                try:
                    await asyncio.wait_for(self._c().wait(), left)
                except asyncio.TimeoutError:
                    pass

    def find(self, pred):
        return [i for i in self.items if pred(i)]


class Client(slixmpp.ClientXMPP):
    """A slixmpp client bound to one target; login() and logout() bounded."""

    def __init__(self, server, jid, password, resource=None, mech=None,
                 direct_tls=False):
        full = "%s/%s" % (jid, resource) if resource else jid
        super().__init__(full, password, sasl_mech=mech)
        self.target = server
        self.direct_tls = direct_tls
        if server.ca_file:
            self.ca_certs = server.ca_file
        else:
            self.ssl_context.check_hostname = False
            self.ssl_context.verify_mode = ssl.CERT_NONE
        for plugin in ("xep_0030", "xep_0199", "xep_0092", "xep_0202",
                       "xep_0203"):
            self.register_plugin(plugin)
        self.roster.auto_authorize = None  # None: leave requests to the test
        self.roster.auto_subscribe = False
        self.messages = Inbox()
        self.presences = Inbox()
        self.auth_failures = []
        self.stream_errors = []
        self.mech_used = None
        self.tls_version = None
        self._session = None
        self._gone = None
        self.register_handler(Callback(
            "capture message", MatchXPath("{%s}message" % NS_CLIENT),
            self.messages.push))
        self.register_handler(Callback(
            "capture presence", MatchXPath("{%s}presence" % NS_CLIENT),
            self.presences.push))
        self.add_event_handler("session_start", self._on_session)
        self.add_event_handler("auth_success", self._on_auth)
        self.add_event_handler("failed_auth", self._on_failed_auth)
        self.add_event_handler("failed_all_auth", self._on_fatal)
        self.add_event_handler("connection_failed", self._on_fatal)
        self.add_event_handler("stream_error", self.stream_errors.append)
        self.add_event_handler("disconnected", self._on_disconnected)
        self.add_event_handler("ssl_invalid_chain", self._on_fatal)

    # events
    def _on_auth(self, _stanza):
        self.mech_used = self["feature_mechanisms"].mech.name
        sock = self.transport.get_extra_info("ssl_object") if self.transport else None
        self.tls_version = sock.version() if sock else None

    def _on_failed_auth(self, stanza):
        self.auth_failures.append(stanza["condition"])

    def _on_session(self, _event):
        if self._session and not self._session.done():
            self._session.set_result(True)

    def _on_fatal(self, event=None):
        if self._session and not self._session.done():
            self._session.set_exception(ClientError("login failed: %r (auth failures %s)"
                                                    % (event, self.auth_failures)))
        self.cancel_connection_attempt()

    def _on_disconnected(self, reason=None):
        if self._session and not self._session.done():
            self._session.set_exception(ClientError(
                "disconnected during login: %r (auth failures %s, stream errors %s)"
                % (reason, self.auth_failures, [str(e) for e in self.stream_errors])))
        if self._gone and not self._gone.done():
            self._gone.set_result(reason)

    # actions
    async def login(self, presence=True, roster=True, timeout=STEP):
        """Connect, authenticate, bind; then, like a real client, fetch the
        roster (which makes this an "interested resource", RFC 6121 §2.1.6)
        and send initial presence."""
        loop = asyncio.get_running_loop()
        self._session = loop.create_future()
        self._gone = loop.create_future()
        port = self.target.tls_port if self.direct_tls else self.target.c2s_port
        self.connect(("127.0.0.1", port), use_ssl=self.direct_tls,
                     force_starttls=not self.direct_tls,
                     disable_starttls=self.direct_tls)
        try:
            await asyncio.wait_for(self._session, timeout)
        except asyncio.TimeoutError:
            self.cancel_connection_attempt()
            self.abort()
            raise ClientError("%s: no session after %.0fs (auth failures %s)"
                              % (self.boundjid, timeout, self.auth_failures))
        except Exception:
            self.cancel_connection_attempt()
            self.abort()
            raise
        if roster:
            self.initial_roster = await self.roster_items()
        if presence:
            self.send_presence()
            # The server handles one stream's stanzas in order: once a ping
            # sent after the presence is answered, this resource is
            # available, and a message to the bare JID sent by another
            # client from now on cannot race it into offline storage.
            ping = self.Iq(stype="get", sto=self.target.domain)
            ping.append(ET.Element("{urn:xmpp:ping}ping"))
            await ping.send(timeout=STEP)
        return self

    async def logout(self, timeout=5):
        if self._gone is None or self._gone.done():
            return
        self.disconnect(wait=2)
        try:
            await asyncio.wait_for(asyncio.shield(self._gone), timeout)
        except asyncio.TimeoutError:
            self.abort()

    async def wait_closed(self, timeout=STEP):
        """Wait until the server ends the stream (or fail)."""
        await asyncio.wait_for(asyncio.shield(self._gone), timeout)

    async def iq_get(self, to, ns, name="query", timeout=STEP):
        iq = self.Iq(stype="get", sto=to)
        iq.append(ET.Element("{%s}%s" % (ns, name)))
        return await iq.send(timeout=timeout)

    async def iq_error(self, to, ns, name="query", timeout=STEP):
        """Send an iq get that must fail; return (type, condition)."""
        try:
            resp = await self.iq_get(to, ns, name, timeout)
        except IqError as e:
            return e.iq["error"]["type"], e.iq["error"]["condition"]
        except IqTimeout:
            raise ClientError("no answer to iq to %s (an iq MUST be answered)" % to)
        raise ClientError("iq to %s succeeded; expected an error: %s" % (to, resp))

    async def roster_items(self):
        iq = self.Iq(stype="get")
        iq.enable("roster")
        resp = await iq.send(timeout=STEP)
        return {str(j): dict(v) for j, v in resp["roster"]["items"].items()}

    def chat(self, to, body, mtype="chat"):
        self.send_message(mto=to, mbody=body, mtype=mtype)

    async def expect_body(self, body, sender=None, timeout=STEP):
        def match(m):
            return (m["type"] != "error" and m["body"] == body
                    and (sender is None or str(m["from"]) == str(sender)))
        return await self.messages.wait(match, timeout, "message %r" % body)


async def login_all(*clients):
    return await asyncio.gather(*(c.login() for c in clients))


async def logout_all(*clients):
    await asyncio.gather(*(c.logout() for c in clients), return_exceptions=True)


class Chatter:
    """Two clients that keep exchanging messages while a test runs.

    Used around hostile input: the server must carry on for everyone else.
    stop() raises if any message was lost or arrived late (> STEP).
    """

    def __init__(self, a, b, interval=0.05):
        self.a, self.b, self.interval = a, b, interval
        self.rounds = 0
        self._stop = False
        self._task = None

    async def _run(self):
        n = 0
        while not self._stop:
            n += 1
            tag = "chatter %d" % n
            self.a.chat(self.b.boundjid.full, tag + " a->b")
            self.b.chat(self.a.boundjid.full, tag + " b->a")
            await self.b.expect_body(tag + " a->b", self.a.boundjid.full)
            await self.a.expect_body(tag + " b->a", self.b.boundjid.full)
            self.rounds = n
            await asyncio.sleep(self.interval)

    def start(self):
        self._task = asyncio.ensure_future(self._run())
        return self

    async def stop(self):
        self._stop = True
        await asyncio.wait_for(self._task, STEP * 2)
        # One more exchange after the hostile input is over.
        self.a.chat(self.b.boundjid.full, "after a->b")
        self.b.chat(self.a.boundjid.full, "after b->a")
        await self.b.expect_body("after a->b", self.a.boundjid.full)
        await self.a.expect_body("after b->a", self.b.boundjid.full)
        if self.rounds < 1:
            raise ClientError("the chatting pair exchanged nothing during the test")
        return self.rounds


# ----------------------------------------------------------------- raw client

class StreamClosed(Exception):
    pass


class RawStream:
    """One XMPP stream over a blocking socket, for hostile input.

    Incoming bytes go to an XML pull parser; top-level elements (stanzas,
    features, stream errors) are collected in self.elements.
    """

    def __init__(self, server, port=None, timeout=STEP):
        self.server = server
        self.timeout = timeout
        self.sock = socket.create_connection(
            ("127.0.0.1", port or server.c2s_port), timeout=timeout)
        self.closed = False
        self.raw = b""
        self._new_parser()

    def _new_parser(self):
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.header = None
        self.elements = []
        self.parse_error = None

    def tls_context(self):
        if getattr(self, "context", None) is not None:
            return self.context
        ctx = ssl.create_default_context()
        if self.server.ca_file:
            ctx.load_verify_locations(self.server.ca_file)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def wrap_direct_tls(self):
        self.sock = self.tls_context().wrap_socket(
            self.sock, server_hostname=self.server.domain)

    # sending
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise StreamClosed("send failed: %s" % e)

    def send_chunked(self, data, chunk=16384):
        """Send a large payload, reading between chunks so that an early
        stream error is kept even if the server then resets the connection."""
        if isinstance(data, str):
            data = data.encode()
        for i in range(0, len(data), chunk):
            self.poll_read(0)
            if self.closed:
                return False
            try:
                self.sock.sendall(data[i:i + chunk])
            except OSError:
                self.closed = True
                return False
        return True

    def open_stream(self, to=None, extra=""):
        self._new_parser()
        self.send("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'%s>"
                  % (to or self.server.domain, extra))

    # receiving
    def _feed(self, data):
        self.raw += data
        try:
            self.parser.feed(data)
            for ev, el in self.parser.read_events():
                if ev == "start":
                    self.depth += 1
                    if self.depth == 1:
                        self.header = el
                elif ev == "end":
                    self.depth -= 1
                    if self.depth == 1:
                        self.elements.append(el)
                        try:
                            self.header.remove(el)
                        except ValueError:
                            pass
        except ET.ParseError as e:
            self.parse_error = e

    def poll_read(self, timeout):
        """Read whatever arrives within timeout seconds; False on EOF."""
        if self.closed:
            return False
        pending = getattr(self.sock, "pending", lambda: 0)()
        if not pending:
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                return True
        try:
            data = self.sock.recv(65536)
        except (ssl.SSLWantReadError, BlockingIOError):
            return True
        except (OSError, ssl.SSLError):
            self.closed = True
            return False
        if not data:
            self.closed = True
            return False
        self._feed(data)
        return True

    def wait(self, pred, timeout=None, what="element"):
        """Wait for a top-level element matching pred; remove it from
        self.elements (so a later wait cannot match it again) and return it."""
        deadline = time.monotonic() + (timeout or self.timeout)
        seen = 0
        while True:
            for i, el in enumerate(self.elements[seen:], seen):
                if pred(el):
                    del self.elements[i]
                    return el
            seen = len(self.elements)
            left = deadline - time.monotonic()
            if self.closed or left <= 0:
                raise StreamClosed("no %s (closed=%s); received: %r" % (
                    what, self.closed, self.raw[-1500:]))
            self.poll_read(min(left, 0.5))

    def wait_tag(self, ns, name, timeout=None):
        return self.wait(lambda e: e.tag == "{%s}%s" % (ns, name), timeout,
                         "<%s xmlns='%s'>" % (name, ns))

    def read_until_closed(self, timeout=None):
        """Read until the server closes the TCP connection or timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.closed and time.monotonic() < deadline:
            self.poll_read(min(deadline - time.monotonic(), 0.5))
        return self.closed

    def stream_error(self, timeout=None):
        """The condition of the <stream:error/> received (waiting for it)."""
        el = self.wait_tag(NS_STREAM, "error", timeout)
        for child in el:
            if child.tag.startswith("{%s}" % NS_STREAM_ERR) and not child.tag.endswith("}text"):
                return child.tag.split("}", 1)[1]
        raise ClientError("stream error without a condition: %s"
                          % ET.tostring(el))

    # negotiation steps
    def starttls(self):
        self.open_stream()
        feats = self.wait_tag(NS_STREAM, "features")
        if feats.find("{%s}starttls" % NS_TLS) is None:
            raise ClientError("no STARTTLS offered: %s" % ET.tostring(feats))
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        self.wait_tag(NS_TLS, "proceed")
        self.sock = self.tls_context().wrap_socket(
            self.sock, server_hostname=self.server.domain)
        self.sock.settimeout(self.timeout)
        self.open_stream()
        return self.wait_tag(NS_STREAM, "features")

    def sasl_plain(self, user, password):
        """Try SASL PLAIN; return 'success' or the failure condition."""
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
        self.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>"
                  % (NS_SASL, token.decode()))
        el = self.wait(lambda e: e.tag in ("{%s}success" % NS_SASL,
                                           "{%s}failure" % NS_SASL),
                       what="SASL outcome")
        if el.tag.endswith("}success"):
            return "success"
        for child in el:
            if not child.tag.endswith("}text"):
                return child.tag.split("}", 1)[1]
        return "failure without condition"

    def login(self, user, password, resource="raw"):
        """STARTTLS, SASL PLAIN, bind; return the bound full JID."""
        self.starttls()
        outcome = self.sasl_plain(user, password)
        if outcome != "success":
            raise ClientError("PLAIN login of %s failed: %s" % (user, outcome))
        self.open_stream()
        self.wait_tag(NS_STREAM, "features")
        self.send("<iq type='set' id='bind1'><bind xmlns='%s'><resource>%s</resource>"
                  "</bind></iq>" % (NS_BIND, resource))
        iq = self.wait(lambda e: e.get("id") == "bind1", what="bind result")
        jid = iq.find("{%s}bind/{%s}jid" % (NS_BIND, NS_BIND))
        if iq.get("type") != "result" or jid is None:
            raise ClientError("bind failed: %s" % ET.tostring(iq))
        self.jid = jid.text
        self.send("<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
        self.send("<presence/>")
        return self.jid

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def stanza_error(el):
    """The defined condition of a stanza error element, or None."""
    err = el.find("{%s}error" % NS_CLIENT)
    if err is None:
        return None
    for child in err:
        if child.tag.startswith("{%s}" % NS_STANZA_ERR) and not child.tag.endswith("}text"):
            return child.tag.split("}", 1)[1]
    return None


def local_part(jid):
    return re.split("[@/]", str(jid))[0]


# ---------------------------------------------------------------------------
# Channel binding in Debian's slixmpp 1.8.3, made to follow RFC 9266.
#
# slixmpp asks ssl for 'tls-unique' on every TLS version.  Python returns
# the first Finished message even on TLS 1.3, where tls-unique is not
# defined (RFC 9266), so against a server that binds with tls-exporter on
# TLS 1.3 slixmpp sends p=tls-unique with -PLUS (refused: wrong binding) or
# the 'y' flag with plain SCRAM (refused: RFC 5802 downgrade protection).
# A correct client without tls-exporter says 'n' and does not pick a -PLUS
# mechanism; these two wrappers make slixmpp do that on TLS 1.3 and leave
# TLS 1.2 (where slixmpp's tls-unique is right) as it is.

from slixmpp.features.feature_mechanisms.mechanisms import \
    FeatureMechanisms as _FeatureMechanisms


def _tls13(xmpp):
    sock = getattr(xmpp, "socket", None)
    version = getattr(sock, "version", None)
    return callable(version) and version() == "TLSv1.3"


_orig_default_credentials = _FeatureMechanisms._default_credentials
_orig_send_auth = _FeatureMechanisms._send_auth


def _default_credentials(self, required_values, optional_values):
    result = _orig_default_credentials(self, required_values, optional_values)
    if "channel_binding" in result and _tls13(self.xmpp):
        result["channel_binding"] = None
    return result


def _send_auth(self):
    if _tls13(self.xmpp):
        self.mech_list = {m for m in self.mech_list if not m.endswith("-PLUS")}
    return _orig_send_auth(self)


_FeatureMechanisms._default_credentials = _default_credentials
_FeatureMechanisms._send_auth = _send_auth


class RawStreamFrom(RawStream):
    """A RawStream whose socket is bound to a given local address (another
    loopback address, such as 127.0.0.2, to look like a second host)."""

    def __init__(self, server, source, port=None, timeout=STEP):
        self.server = server
        self.timeout = timeout
        self.sock = socket.create_connection(
            ("127.0.0.1", port or server.c2s_port), timeout=timeout,
            source_address=(source, 0))
        self.closed = False
        self.raw = b""
        self._new_parser()
