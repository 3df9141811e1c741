"""Helpers for the issue-4 label tests (test_labels.py): a liaisond run on
free loopback ports in a temporary folder, liaisonctl, and slixmpp clients
that record every stanza they receive so a test can assert what a user saw.

Standalone: depends on no conftest.py.  Every wait is bounded.
"""
import asyncio
import os
import shutil
import signal
import socket
import stat
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("LIAISON_BUILD", REPO / "build"))
LIAISOND = BUILD / "liaisond"
LIAISONCTL = BUILD / "liaisonctl"
DATA = Path(__file__).resolve().parent / "labels"
NATO_SPIF = REPO / "policies" / "demo-nato.xml"
ZORIA_SPIF = REPO / "policies" / "demo-zoria.xml"
SPIFS = [NATO_SPIF, ZORIA_SPIF]
DOMAIN = "liaison.test"

NS_CLIENT = "jabber:client"
NS_SECLABEL = "urn:xmpp:sec-label:0"
NS_CATALOG = "urn:xmpp:sec-label:catalog:2"
NS_4774 = "urn:nato:stanag:4774:confidentialitymetadatalabel:1:0"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_PING = "urn:xmpp:ping"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"

# Slow machines and sanitizer builds: generous, but every wait is bounded.
SCALE = float(os.environ.get("LIAISON_TEST_TIME_SCALE", "1"))
T_CONNECT = 30 * SCALE  # TLS + SASL + bind + session
T_STANZA = 8 * SCALE  # a stanza expected to arrive
T_QUIET = 1.5 * SCALE  # how long "nothing arrives" is watched
T_TEST = 240 * SCALE  # a whole test body


def label_path(name):
    return DATA / name


def label_xml(name):
    """The text of a data file of tests/integration/labels/."""
    return (DATA / name).read_text(encoding="utf-8")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ctl(args, data=None, timeout=30, check=False, input=None):
    """Runs liaisonctl [--data DATA] ARGS; returns the CompletedProcess."""
    cmd = [str(LIAISONCTL)]
    if data is not None:
        cmd += ["--data", str(data)]
    cmd += [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       input=input)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\nstdout: %s\nstderr: %s"
                             % (" ".join(cmd), p.returncode, p.stdout,
                                p.stderr))
    return p


def label_check(label, clearance):
    """`liaisonctl label check` over both demo policies: (rc, first line)."""
    p = run_ctl(["label", "check", "--spif", *SPIFS, "--label",
                 label_path(label), "--clearance", label_path(clearance)])
    return p.returncode, (p.stdout + p.stderr).strip()


def label_mark(label):
    """The SPIF marking of a label as `liaisonctl label mark --json` gives
    it: dict with marking, fgcolor, bgcolor, policy."""
    import json
    p = run_ctl(["label", "mark", "--spif", *SPIFS, "--label",
                 label_path(label), "--json"], check=True)
    return json.loads(p.stdout)


def copy_data_dir(src, dst):
    """Copies a data folder, leaving out sockets and other special files."""
    def ignore(d, names):
        out = []
        for n in names:
            try:
                m = os.lstat(os.path.join(d, n)).st_mode
            except OSError:
                out.append(n)
                continue
            if not (stat.S_ISREG(m) or stat.S_ISDIR(m)):
                out.append(n)
        return out
    shutil.copytree(src, dst, ignore=ignore)


class Server:
    """One liaisond on loopback.  start() waits until both listeners accept;
    stop() sends SIGTERM and fails if the process had died or exits with an
    error (a crash)."""

    def __init__(self, tmp, spifs=SPIFS, default_label=None,
                 require_labels=False, config=None, extra_args=()):
        self.tmp = Path(tmp)
        self.data = self.tmp / "data"
        self.domain = DOMAIN
        self.port = free_port()
        self.tls_port = free_port()
        while self.tls_port == self.port:
            self.tls_port = free_port()
        self.spifs = list(spifs or [])
        self.default_label = default_label
        self.require_labels = require_labels
        self.config = config
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = self.tmp / "liaisond.log"
        self.passwords = {}

    # -- process --------------------------------------------------------
    def argv(self):
        a = [str(LIAISOND)]
        if self.config is not None:
            cfg = self.tmp / "liaison.conf"
            cfg.write_text(self.config, encoding="utf-8")
            a += ["-c", str(cfg)]
        a += ["--data", str(self.data), "--domain", self.domain,
              "--listen", "127.0.0.1:%d" % self.port,
              "--listen-tls", "127.0.0.1:%d" % self.tls_port]
        for s in self.spifs:
            a += ["--spif", str(s)]
        if self.default_label is not None:
            a += ["--default-label", str(self.default_label)]
        if self.require_labels:
            a += ["--require-labels"]
        return a + self.extra_args

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self, timeout=20 * SCALE):
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=self._logf,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("liaisond exited %s at start:\n%s"
                                     % (self.proc.returncode, self.log()))
            if self._accepts(self.port) and self._accepts(self.tls_port):
                return self
            time.sleep(0.05)
        self.kill()
        raise AssertionError("liaisond did not listen within %ss:\n%s"
                             % (timeout, self.log()))

    @staticmethod
    def _accepts(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20 * SCALE):
        """Graceful stop.  Raises if liaisond had crashed or exits badly."""
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        died_before = p.poll() is not None
        if not died_before:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
                self._logf.close()
                raise AssertionError("liaisond did not stop on SIGTERM "
                                     "within %ss:\n%s" % (timeout,
                                                          self.log()[-4000:]))
        self._logf.close()
        if died_before:
            raise AssertionError("liaisond died during the test (exit %s):\n%s"
                                 % (p.returncode, self.log()[-4000:]))
        if p.returncode not in (0, -signal.SIGTERM):
            raise AssertionError("liaisond exited %s on SIGTERM:\n%s"
                                 % (p.returncode, self.log()[-4000:]))

    def kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            self.proc = None
            self._logf.close()

    # -- admin ------------------------------------------------------------
    def ctl(self, *args, check=True, timeout=30):
        return run_ctl(args, data=self.data, check=check, timeout=timeout)

    def add_user(self, node, password=None, clearance=None):
        password = password or "pw-" + node + "-x9"
        self.ctl("user", "add", self.jid(node), password)
        self.passwords[node] = password
        if clearance is not None:
            self.set_clearance(node, clearance)
        return self.jid(node)

    def set_clearance(self, node, clearance, check=True):
        return self.ctl("clearance", "set", self.jid(node),
                        label_path(clearance), check=check)

    def jid(self, node, resource=None):
        j = "%s@%s" % (node, self.domain)
        return j + "/" + resource if resource else j

    def audit_show(self):
        return self.ctl("audit", "show", check=False)

    def audit_verify(self, data=None):
        return run_ctl(["audit", "verify"], data=data or self.data)

    @property
    def ca(self):
        return self.data / "certs" / "ca.pem"


# -- stanzas -------------------------------------------------------------

def securitylabel(label_name=None, marking=None, fg=None, bg=None,
                  raw_label=None):
    """A <securitylabel/> element holding the 4774 label of a data file (or
    the raw XML text raw_label) and an optional (possibly forged) marking."""
    sl = ET.Element("{%s}securitylabel" % NS_SECLABEL)
    if marking is not None:
        dm = ET.SubElement(sl, "{%s}displaymarking" % NS_SECLABEL)
        if fg:
            dm.set("fgcolor", fg)
        if bg:
            dm.set("bgcolor", bg)
        dm.text = marking
    lab = ET.SubElement(sl, "{%s}label" % NS_SECLABEL)
    text = raw_label if raw_label is not None else label_xml(label_name)
    if text:
        lab.append(ET.fromstring(text.encode("utf-8")))
    return sl


def raw_securitylabel(inner):
    """A <securitylabel/> whose content is the raw XML text `inner`, any
    shape at all (for the malformed-label tests)."""
    return ET.fromstring(('<securitylabel xmlns="%s">%s</securitylabel>'
                          % (NS_SECLABEL, inner)).encode("utf-8"))


def seclabel_file(name):
    """The <securitylabel/> element of a data file whose root is one."""
    el = ET.fromstring(label_xml(name).encode("utf-8"))
    assert el.tag == "{%s}securitylabel" % NS_SECLABEL, el.tag
    return el


def label_body(name):
    """The text of a data file's label without its XML declaration, to
    splice into raw XML."""
    t = label_xml(name)
    if t.startswith("<?xml"):
        t = t[t.index("?>") + 2:]
    return t.strip()


def stanza_error_text(el):
    """The <text/> of an error stanza, or None."""
    t = el.find("{%s}error/{%s}text" % (NS_CLIENT, NS_STANZAS))
    return t.text if t is not None else None


def find_seclabel(el):
    """The first securitylabel element anywhere under el, or None."""
    return el.find(".//{%s}securitylabel" % NS_SECLABEL) \
        if el.tag != "{%s}securitylabel" % NS_SECLABEL else el


def seclabel_info(el):
    """(marking text, fgcolor, bgcolor, policy, classification) of the
    securitylabel carried directly by stanza el (not in a forwarded copy),
    or None."""
    sl = el.find("{%s}securitylabel" % NS_SECLABEL)
    if sl is None:
        return None
    dm = sl.find("{%s}displaymarking" % NS_SECLABEL)
    pol = sl.find(".//{%s}PolicyIdentifier" % NS_4774)
    cls = sl.find(".//{%s}Classification" % NS_4774)
    return {
        "marking": (dm.text or "").strip() if dm is not None else None,
        "fgcolor": dm.get("fgcolor") if dm is not None else None,
        "bgcolor": dm.get("bgcolor") if dm is not None else None,
        "policy": (pol.text or "").strip() if pol is not None else None,
        "classification": (cls.text or "").strip() if cls is not None
        else None,
    }


def stanza_error(el):
    """(type, condition) of an error stanza, or None."""
    if el.get("type") != "error":
        return None
    e = el.find("{%s}error" % NS_CLIENT)
    if e is None:
        return ("?", "?")
    cond = None
    for c in e:
        if c.tag.startswith("{%s}" % NS_STANZAS) and not c.tag.endswith(
                "}text"):
            cond = c.tag.split("}", 1)[1]
    return (e.get("type"), cond)


def body_of(el):
    b = el.find("{%s}body" % NS_CLIENT)
    return b.text if b is not None else None


def carbon_inner(el):
    """(direction, inner message) of a carbon copy, or None."""
    for d in ("received", "sent"):
        c = el.find("{%s}%s" % (NS_CARBONS, d))
        if c is not None:
            m = c.find("{%s}forwarded/{%s}message" % (NS_FORWARD, NS_CLIENT))
            return d, m
    return None


def new_id(tag="t"):
    return "%s-%s" % (tag, uuid.uuid4().hex[:12])


class Client(slixmpp.ClientXMPP):
    """A slixmpp client that keeps a copy of every message, presence and IQ
    it receives (as ElementTree elements, in arrival order)."""

    def __init__(self, server, node, resource="r1", carbons=False,
                 direct_tls=False):
        super().__init__(server.jid(node, resource), server.passwords[node])
        self.srv = server
        self.direct_tls = direct_tls
        self.node = node
        self.want_carbons = carbons
        self.ca_certs = str(server.ca)
        self.received = []
        self._arrived = asyncio.Event()
        self._started = asyncio.Event()
        self._failed = None
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199")
        self.register_plugin("xep_0280")
        for kind in ("message", "presence", "iq"):
            self.register_handler(Callback(
                "record " + kind, MatchXPath("{%s}%s" % (NS_CLIENT, kind)),
                self._record))
        self.add_event_handler("session_start", self._on_start)
        self.add_event_handler("failed_auth", self._on_fail)
        self.add_event_handler("connection_failed", self._on_fail)

    def _record(self, stanza):
        # Deep copy: slixmpp may change its own tree afterwards.
        self.received.append(ET.fromstring(ET.tostring(stanza.xml)))
        self._arrived.set()

    def _on_fail(self, *args):
        self._failed = "connection or authentication failed: %r" % (args,)
        self._started.set()

    async def _on_start(self, _):
        self.send_presence()
        self._started.set()

    async def start(self):
        if self.direct_tls:  # XEP-0368 listener
            self.connect(("127.0.0.1", self.srv.tls_port), use_ssl=True)
        else:
            self.connect(("127.0.0.1", self.srv.port))
        await asyncio.wait_for(self._started.wait(), T_CONNECT)
        if self._failed:
            raise AssertionError("%s: %s" % (self.boundjid, self._failed))
        if self.want_carbons:
            await asyncio.wait_for(self.plugin["xep_0280"].enable(),
                                   T_STANZA)
        # The initial presence's round trip: the session is available.
        await asyncio.sleep(0.2)
        return self

    async def stop(self):
        if not self.is_connected():
            return
        try:
            await asyncio.wait_for(self.disconnect(wait=2.0), 5 * SCALE)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            pass

    # -- sending ------------------------------------------------------
    def send_msg(self, to, body, label=None, marking=None, fg=None, bg=None,
                 raw_label=None, mtype="chat", sid=None):
        """Sends a message with an optional securitylabel; returns its id."""
        sid = sid or new_id("m")
        m = self.make_message(mto=to, mbody=body, mtype=mtype)
        m["id"] = sid
        if label is not None or raw_label is not None:
            m.xml.append(securitylabel(label, marking, fg, bg, raw_label))
        m.send()
        return sid

    def send_msg_els(self, to, body, els, mtype="chat", sid=None):
        """Sends a message with the given child elements (securitylabels of
        any shape) after its body; returns its id."""
        sid = sid or new_id("m")
        m = self.make_message(mto=to, mbody=body, mtype=mtype)
        m["id"] = sid
        for el in els:
            m.xml.append(el)
        m.send()
        return sid

    def send_raw_xml(self, text):
        self.send_raw(text)

    # -- waiting ------------------------------------------------------
    async def wait_for(self, pred, timeout=T_STANZA, what="a stanza"):
        """The first received element for which pred is true; waits up to
        timeout seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        seen = 0
        while True:
            for el in self.received[seen:]:
                if pred(el):
                    return el
            seen = len(self.received)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(
                    "%s did not receive %s within %.1fs; it received:\n%s"
                    % (self.boundjid, what, timeout, self.dump()))
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.25))
            except asyncio.TimeoutError:
                pass

    def matching(self, pred):
        return [el for el in self.received if pred(el)]

    async def assert_none(self, pred, wait=T_QUIET, what="a stanza"):
        """Waits `wait` seconds and asserts nothing matching pred arrived."""
        await asyncio.sleep(wait)
        got = self.matching(pred)
        assert not got, "%s received %s it must not get:\n%s" % (
            self.boundjid, what, "\n".join(
                ET.tostring(e, encoding="unicode") for e in got))

    def dump(self):
        return "\n".join("  " + ET.tostring(e, encoding="unicode")[:600]
                         for e in self.received[-20:]) or "  (nothing)"

    # Predicates --------------------------------------------------------
    @staticmethod
    def is_body(body):
        """A directly delivered (not carbon, not error) message with body."""
        return lambda el: (el.tag == "{%s}message" % NS_CLIENT and
                           el.get("type") != "error" and
                           body_of(el) == body)

    @staticmethod
    def is_carbon(body, direction=None):
        def p(el):
            c = carbon_inner(el) if el.tag == "{%s}message" % NS_CLIENT \
                else None
            return (c is not None and c[1] is not None and
                    body_of(c[1]) == body and
                    (direction is None or c[0] == direction))
        return p

    @staticmethod
    def mentions(body):
        """Any stanza whose text anywhere holds body (leak detector)."""
        return lambda el: any(
            (t.text or "").find(body) >= 0 for t in el.iter())

    @staticmethod
    def is_error_for(sid, kind="message"):
        return lambda el: (el.tag == "{%s}%s" % (NS_CLIENT, kind) and
                           el.get("id") == sid and
                           el.get("type") == "error")

    @staticmethod
    def is_reply_for(sid):
        return lambda el: (el.tag == "{%s}iq" % NS_CLIENT and
                           el.get("id") == sid and
                           el.get("type") in ("result", "error"))


def run(coro_fn, timeout=T_TEST):
    """Runs an async test body on a fresh event loop, bounded."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(asyncio.wait_for(coro_fn(), timeout))
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=5))
        finally:
            loop.close()
            asyncio.set_event_loop(None)


async def connect(server, node, resource="r1", carbons=False,
                  direct_tls=False):
    c = Client(server, node, resource, carbons, direct_tls)
    await c.start()
    return c


async def close_all(*clients):
    for c in clients:
        if c is not None:
            try:
                await c.stop()
            except Exception:  # noqa: BLE001 - teardown must go on
                pass
