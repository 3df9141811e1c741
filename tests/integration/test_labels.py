"""Issue 4: XEP-0258 security labels enforced by liaisond, end to end.

Each test starts its own liaisond on free loopback ports in a temporary
folder (see labelkit.Server), drives it with slixmpp clients and liaisonctl,
and asserts what a user sees: the delivered body, label and display
marking, the error returned to the sender, the audit records.

The data files are in labels/ (see labels/README.md).  The expected
decisions below come from `liaisonctl label check` over the two demo
policies; test_data_matrix_matches_label_engine re-checks every pair, so a
change of the policies or of the engine shows up there first.

Run: /usr/bin/python3 -m pytest -q tests/integration/test_labels.py
"""
import asyncio
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

import labelkit as lk
from labelkit import Client, NS_CLIENT, NS_SECLABEL, NS_CATALOG, NS_4774

if os.environ.get("LIAISON_TARGETS") and \
        "liaison" not in os.environ["LIAISON_TARGETS"].split(","):
    pytest.skip("security labels are Liaison-only", allow_module_level=True)

# --- the decision matrix ------------------------------------------------

# Clearance files (labels/clearance-*.xml) by short name.
NATOSECRET = "clearance-natosecret.xml"  # DEMO-NATO up to SECRET, Context
#   NATO+Releasable, Releasable To NATO+XZO, no Additional Sensitivity
RESTRICTED = "clearance-restricted.xml"  # DEMO-NATO up to RESTRICTED,
#   Context NATO+Releasable, Releasable To NATO
ZORIA = "clearance-zoria.xml"  # ZORIA, all levels, Distribution ZORIA only,
#   Special Handling NATIONAL ONLY (a national user of the partner nation)
NATOCRYPTO = "clearance-natocrypto.xml"  # as NATOSECRET plus CRYPTO
CLEARANCES = [NATOSECRET, RESTRICTED, ZORIA, NATOCRYPTO]

# label file -> the clearances `liaisonctl label check` GRANTs it to.
GRANTS = {
    "nato-unclassified.xml": {NATOSECRET, RESTRICTED, NATOCRYPTO},
    "nato-restricted.xml": {NATOSECRET, RESTRICTED, NATOCRYPTO},
    "nato-restricted-rel-xzo.xml": {NATOSECRET, RESTRICTED, ZORIA,
                                    NATOCRYPTO},
    "nato-secret-rel-xzo.xml": {NATOSECRET, ZORIA, NATOCRYPTO},
    "nato-secret-nato-only.xml": {NATOSECRET, NATOCRYPTO},
    "nato-secret-crypto.xml": {NATOCRYPTO},
    "zoria-national.xml": {ZORIA},
    "zoria-official-nato.xml": {NATOSECRET, RESTRICTED, ZORIA, NATOCRYPTO},
    # the same label as nato-secret-rel-xzo, in a 4778 BindingInformation
    "bdo-nato-secret-rel-xzo.xml": {NATOSECRET, ZORIA, NATOCRYPTO},
}
# The online matrix sends these (the BindingInformation form has its own
# test, test_binding_information_label).
MATRIX_LABELS = [lab for lab in GRANTS if not lab.startswith("bdo-")]
# Labels that are not valid under the loaded policies, and why.
INVALID = {
    "unknown-policy.xml": "rule 3.2.1",  # policy ATLANTIS
    "invalid-restricted-crypto.xml": "rule 3.2.4",  # CRYPTO excluded
}
MALFORMED = ["malformed-no-classification.xml"]  # liaisonctl exit 2

# The SPIF marking of each valid label (liaisonctl label mark --json):
# (marking, fgcolor, bgcolor).  A ZORIA label may also be shown in
# Ukrainian (MARK_UK).
MARK = {
    "nato-unclassified.xml": ("DEMO-NATO UNCLASSIFIED", "black", "white"),
    "nato-restricted.xml": ("DEMO-NATO RESTRICTED", "black", "#AAAAFF"),
    "nato-restricted-rel-xzo.xml": ("DEMO-NATO RESTRICTED Releasable to "
                                    "Zoria", "black", "#AAAAFF"),
    "nato-secret-rel-xzo.xml": ("DEMO-NATO SECRET Releasable to Zoria",
                                "white", "red"),
    "nato-secret-nato-only.xml": ("DEMO-NATO SECRET", "white", "red"),
    "nato-secret-crypto.xml": ("DEMO-NATO SECRET CRYPTO Releasable to Zoria",
                               "white", "red"),
    "zoria-national.xml": ("ZORIA SECRET Distribution: ZORIA NATIONAL ONLY",
                           "black", "#FFAA00"),
    "zoria-official-nato.xml": ("ZORIA OFFICIAL USE Distribution: ZORIA, "
                                "NATO", "black", "#AAAAFF"),
    "bdo-nato-secret-rel-xzo.xml": ("DEMO-NATO SECRET Releasable to Zoria",
                                    "white", "red"),
}
MARK_UK = {
    "zoria-national.xml": "ЗОРІЯ ТАЄМНО Розповсюдження: ЗОРІЯ ТІЛЬКИ "
                          "НАЦІОНАЛЬНЕ",
    "zoria-official-nato.xml": "ЗОРІЯ ДЛЯ СЛУЖБОВОГО КОРИСТУВАННЯ "
                               "Розповсюдження: ЗОРІЯ, НАТО",
}
# A ZORIA label that maps to DEMO-NATO may be marked in the governing
# policy (ADatP-4774.1 4.2: a processor uses the label of its own policy):
# the marking of `liaisonctl label map --to DEMO-NATO`'s alternative label.
MARK_GOVERNING = {
    "zoria-official-nato.xml": "DEMO-NATO RESTRICTED Releasable to Zoria",
}
# Classification inside each label (what the recipient's label must hold).
CLASS = {
    "nato-unclassified.xml": "UNCLASSIFIED",
    "nato-restricted.xml": "RESTRICTED",
    "nato-restricted-rel-xzo.xml": "RESTRICTED",
    "nato-secret-rel-xzo.xml": "SECRET",
    "nato-secret-nato-only.xml": "SECRET",
    "nato-secret-crypto.xml": "SECRET",
    "zoria-national.xml": "SECRET",
    "zoria-official-nato.xml": "OFFICIAL USE",
    "bdo-nato-secret-rel-xzo.xml": "SECRET",
}

# Users of the scenarios and their clearances.
USERS = {
    "alice": NATOSECRET,  # two resources, carbons on
    "bob": RESTRICTED,
    "zed": ZORIA,
    "yuri": ZORIA,
    "dave": NATOCRYPTO,
}


def granted(label, node):
    return USERS[node] in GRANTS[label]


# --- fixtures and helpers -------------------------------------------------

class _OwnServers:
    """Stands in for conftest.py's shared `server` (one Prosody and one
    Liaison for the whole session): labels are Liaison-only and every test
    here starts its own liaisond with its own options (`servers`), which
    checks for crashes itself."""
    name = "liaison"
    log = None

    def check_alive(self):
        pass


@pytest.fixture(scope="module")
def server():
    """Overrides the directory's `server` fixture for this module only."""
    return _OwnServers()


@pytest.fixture
def servers(tmp_path, server):
    """A factory of liaisond instances; all are stopped at the end and the
    test fails if one crashed or did not stop cleanly."""
    made = []

    def make(users=USERS, name="srv", start=True, **kw):
        s = lk.Server(tmp_path / name, **kw)
        s.data.mkdir(parents=True, exist_ok=True)
        for node, clr in users.items():
            s.add_user(node, clearance=clr)
        made.append(s)
        server.log = s.log_path  # shown by conftest's failure report
        if start:
            s.start()
        return s
    yield make
    errors = []
    for s in made:
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


def assert_marking(info, label, forged=None):
    """The securitylabel a recipient got carries the SPIF marking of
    `label` (never the client's text)."""
    assert info is not None, "no securitylabel on the delivered stanza"
    text, fg, bg = MARK[label]
    accepted = {text, MARK_UK.get(label, text),
                MARK_GOVERNING.get(label, text)}
    assert info["marking"] in accepted, (
        "display marking %r, want the SPIF's %r (forged text was %r)"
        % (info["marking"], text, forged))
    if forged is not None:
        assert info["marking"] != forged
    if label.startswith(("nato-", "bdo-")):
        assert (info["fgcolor"], info["bgcolor"]) == (fg, bg), info
    assert info["classification"] == CLASS[label], info


FORBIDDEN = ("cancel", "forbidden")
BAD_REQUEST = ("modify", "bad-request")


def assert_delivered(el, label, body):
    assert lk.body_of(el) == body
    assert el.find(".//{%s}error" % NS_CLIENT) is None
    assert_marking(lk.seclabel_info(el), label)


def assert_refusal(el, etype="cancel", cond="forbidden"):
    """An error stanza of the given type and condition with no
    securitylabel anywhere in it."""
    assert lk.stanza_error(el) == (etype, cond), ET.tostring(
        el, encoding="unicode")
    assert lk.find_seclabel(el) is None, (
        "the error carries a securitylabel: %s"
        % ET.tostring(el, encoding="unicode"))


async def audit_lines_for(srv, ids, timeout=10 * lk.SCALE):
    """Waits until `liaisonctl audit show` lists a record for each id;
    returns {id: line}."""
    deadline = time.monotonic() + timeout
    while True:
        p = srv.audit_show()
        found = {}
        for line in p.stdout.splitlines():
            for i in ids:
                if i in line:
                    found[i] = line
        if len(found) == len(ids) or time.monotonic() > deadline:
            missing = set(ids) - set(found)
            assert not missing, (
                "audit show (exit %d) has no record of %s:\n%s\n%s"
                % (p.returncode, sorted(missing), p.stdout[-3000:],
                   p.stderr))
            return found, p.stdout
        await asyncio.sleep(0.3)


def iq_with(client, to, child, label=None, itype="get"):
    iq = client.make_iq(ito=to, itype=itype)
    iq["id"] = lk.new_id("iq")
    iq.xml.append(child)
    if label is not None:
        iq.xml.append(lk.securitylabel(label))
    client.send(iq)
    return iq["id"]


def ping():
    return ET.Element("{%s}ping" % lk.NS_PING)


# --- 0. data --------------------------------------------------------------

def test_data_matrix_matches_label_engine(tmp_path):
    """Every label x clearance decision used below is what the label
    engine decides; invalid and malformed labels are refused by it; the
    expected markings are the SPIF's."""
    for label, grants in GRANTS.items():
        p = lk.run_ctl(["label", "validate", "--spif", *lk.SPIFS,
                        "--label", lk.label_path(label)])
        assert (p.returncode, p.stdout.strip()) == (0, "VALID"), (label, p)
        for clr in CLEARANCES:
            rc, out = lk.label_check(label, clr)
            want = clr in grants
            assert (rc == 0 and out == "GRANT") if want else \
                (rc == 1 and out.startswith("DENY")), (label, clr, rc, out)
        m = lk.label_mark(label)
        assert (m["marking"], m["fgcolor"], m["bgcolor"]) == MARK[label]
    for label, want in MARK_GOVERNING.items():
        p = lk.run_ctl(["label", "map", "--spif", *lk.SPIFS, "--label",
                        lk.label_path(label), "--to", "DEMO-NATO"],
                       check=True)
        alt = ET.fromstring(p.stdout).find(
            ".//{%s}alternativeConfidentialityLabel" % NS_4774)
        assert alt is not None, p.stdout
        alt.tag = "{%s}originatorConfidentialityLabel" % NS_4774
        f = tmp_path / "mapped.xml"
        f.write_bytes(ET.tostring(alt))
        p = lk.run_ctl(["label", "mark", "--spif", *lk.SPIFS, "--label", f],
                       check=True)
        assert p.stdout.strip() == want, p.stdout
    for label, rule in INVALID.items():
        p = lk.run_ctl(["label", "validate", "--spif", *lk.SPIFS,
                        "--label", lk.label_path(label)])
        assert p.returncode == 1 and rule in p.stdout, (label, p)
        for clr in CLEARANCES:
            rc, out = lk.label_check(label, clr)
            assert rc == 1 and out.startswith("DENY"), (label, clr, out)
    for label in MALFORMED:
        p = lk.run_ctl(["label", "validate", "--spif", *lk.SPIFS,
                        "--label", lk.label_path(label)])
        assert p.returncode == 2, (label, p)
    # A clearance file is not a label; an invalid clearance is refused.
    rc, out = lk.label_check("nato-unclassified.xml", "clearance-invalid.xml")
    assert rc == 2 and "SUPERSECRET" in out


# --- 1. startup: fail closed, labels off ----------------------------------

@pytest.mark.parametrize("spif", ["missing", "not-a-spif"])
def test_fail_closed_on_bad_spif(tmp_path, spif):
    """Labels on with an unreadable or invalid SPIF: liaisond exits
    non-zero with a message naming the problem, and never listens."""
    path = tmp_path / "nope.xml" if spif == "missing" else \
        lk.label_path("not-a-spif.xml")
    s = lk.Server(tmp_path / "srv", spifs=[path])
    argv = s.argv()
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=15 * lk.SCALE)
    except subprocess.TimeoutExpired:
        pytest.fail("liaisond kept running with an invalid SPIF %s" % path)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert re.search(r"spif|policy|" + re.escape(path.name), out, re.I), out
    assert not lk.Server._accepts(s.port)


def test_disco_without_and_with_labels(servers):
    """disco#info of the server lists urn:xmpp:sec-label:0 and the catalog
    feature with labels on, and neither without --spif."""
    off = servers(users={"alice": None}, name="off", spifs=[])
    on = servers(users={"alice": NATOSECRET}, name="on")

    async def body():
        res = {}
        for name, srv in (("off", off), ("on", on)):
            c = await lk.connect(srv, "alice")
            sid = iq_with(c, srv.domain,
                          ET.Element("{%s}query" % lk.NS_DISCO_INFO))
            el = await c.wait_for(c.is_reply_for(sid), what="disco#info")
            assert el.get("type") == "result"
            res[name] = {f.get("var") for f in el.iter(
                "{%s}feature" % lk.NS_DISCO_INFO)}
            await lk.close_all(c)
        return res
    res = lk.run(body)
    assert NS_SECLABEL in res["on"] and NS_CATALOG in res["on"], res["on"]
    assert NS_SECLABEL not in res["off"] and NS_CATALOG not in res["off"]


# --- 2. the matrix --------------------------------------------------------

def test_matrix_online_multisession(servers):
    """Every label to every online user, alice on two resources with
    carbons: each granted delivery arrives with the label and the SPIF
    marking (to both of alice's sessions), each refused one returns
    forbidden without a label to the sender and reaches no session."""
    srv = servers()

    async def body():
        a1 = await lk.connect(srv, "alice", "a", carbons=True)
        a2 = await lk.connect(srv, "alice", "b", carbons=True)
        cl = {"bob": await lk.connect(srv, "bob"),
              "zed": await lk.connect(srv, "zed"),
              "yuri": await lk.connect(srv, "yuri"),
              "dave": await lk.connect(srv, "dave")}
        everyone = [a1, a2] + list(cl.values())
        cases = []  # (label, sender client, recipient node, sid, body)
        clients = {"alice": a1, **cl}
        for label in MATRIX_LABELS:
            for recip in ("alice", "bob", "zed", "dave"):
                # The first user other than the recipient who is cleared
                # for the label sends it (ingress passes).
                snd = [n for n in ("dave", "yuri", "alice", "zed", "bob")
                       if n != recip and granted(label, n)]
                if not snd:
                    continue  # only the recipient could send it
                sender = clients[snd[0]]
                text = "matrix %s -> %s %s" % (label, recip, lk.new_id("b"))
                sid = sender.send_msg(srv.jid(recip), text, label=label)
                cases.append((label, sender, recip, sid, text))
        assert len(cases) >= 30
        for label, sender, recip, sid, text in cases:
            targets = [a1, a2] if recip == "alice" else [cl[recip]]
            if granted(label, recip):
                for t in targets:
                    el = await t.wait_for(t.is_body(text), what=text)
                    assert_delivered(el, label, text)
            else:
                err = await sender.wait_for(sender.is_error_for(sid),
                                            what="forbidden for " + text)
                assert_refusal(err)
        await asyncio.sleep(lk.T_QUIET)
        for label, sender, recip, sid, text in cases:
            targets = [a1, a2] if recip == "alice" else [cl[recip]]
            if granted(label, recip):
                assert not sender.matching(sender.is_error_for(sid)), (
                    "granted %s to %s, but the sender got an error"
                    % (label, recip))
                for t in targets:
                    assert len(t.matching(t.is_body(text))) == 1
            else:
                # Neither the message nor any copy of it (carbon) leaks.
                for c in everyone:
                    if c.node == sender.node:
                        continue  # the sender's own copies (carbons)
                    assert not c.matching(Client.mentions(text)), (
                        "%s got refused %s: %s" % (c.boundjid, label,
                                                    c.dump()))
        await lk.close_all(*everyone)
    lk.run(body)


def test_binding_information_label(servers):
    """A 4778 mb:BindingInformation holding the 4774 label inside <label>
    is accepted like the bare label: delivered with the SPIF marking to a
    cleared user, refused with forbidden to an uncleared one."""
    srv = servers()
    label = "bdo-nato-secret-rel-xzo.xml"

    async def body():
        dave = await lk.connect(srv, "dave")
        zed = await lk.connect(srv, "zed")
        bob = await lk.connect(srv, "bob")
        t1 = "bdo to zed " + lk.new_id()
        id1 = dave.send_msg(srv.jid("zed"), t1, label=label)
        t2 = "bdo to bob " + lk.new_id()
        id2 = dave.send_msg(srv.jid("bob"), t2, label=label)
        err = await dave.wait_for(dave.is_error_for(id2))
        assert_refusal(err)
        el = await zed.wait_for(zed.is_body(t1))
        assert_delivered(el, label, t1)
        assert not dave.matching(dave.is_error_for(id1))
        await bob.assert_none(Client.mentions(t2))
        await lk.close_all(dave, zed, bob)
    lk.run(body)


def test_sessions_checked_against_their_own_clearance(servers):
    """Two sessions of one user with different clearances (the direct-TLS
    listener is capped at RESTRICTED): a SECRET message to the bare JID
    reaches only the uncapped session; one to the uncapped session's full
    JID is not carbon-copied to the capped one; a RESTRICTED message reaches
    both."""
    cfg = 'listen_tls_clearance_cap = "%s";\n' % lk.label_path(RESTRICTED)
    srv = servers(config=cfg)

    async def body():
        hi = await lk.connect(srv, "alice", "hi", carbons=True)
        lo = await lk.connect(srv, "alice", "lo", carbons=True,
                              direct_tls=True)
        dave = await lk.connect(srv, "dave")
        s1 = "secret bare " + lk.new_id()
        dave.send_msg(srv.jid("alice"), s1, label="nato-secret-nato-only.xml")
        s2 = "secret full " + lk.new_id()
        dave.send_msg(srv.jid("alice", "hi"), s2,
                      label="nato-secret-nato-only.xml")
        r1 = "restricted bare " + lk.new_id()
        dave.send_msg(srv.jid("alice"), r1, label="nato-restricted.xml")
        r2 = "restricted full " + lk.new_id()
        dave.send_msg(srv.jid("alice", "hi"), r2,
                      label="nato-restricted.xml")
        for t in (s1, s2, r1, r2):
            el = await hi.wait_for(hi.is_body(t))
            assert_delivered(el, "nato-secret-nato-only.xml"
                             if t.startswith("secret") else
                             "nato-restricted.xml", t)
        el = await lo.wait_for(lo.is_body(r1))
        assert_delivered(el, "nato-restricted.xml", r1)
        cc = await lo.wait_for(lo.is_carbon(r2, "received"))
        assert_delivered(lk.carbon_inner(cc)[1], "nato-restricted.xml", r2)
        await lo.assert_none(lambda e: Client.mentions(s1)(e) or
                             Client.mentions(s2)(e), what="SECRET")
        # The SECRET refusal to the capped session must not show the label.
        for e in dave.matching(lambda e: e.get("type") == "error"):
            assert_refusal(e)
        await lk.close_all(hi, lo, dave)
    lk.run(body)


def test_carbons_follow_the_inner_label(servers):
    """Carbons (XEP-0280): a message to alice/a is copied to alice/b with
    its label and SPIF marking when granted; a refused one is neither
    delivered nor copied; alice's own labelled message reaches alice/b as
    a 'sent' carbon with its label."""
    srv = servers()

    async def body():
        a1 = await lk.connect(srv, "alice", "a", carbons=True)
        a2 = await lk.connect(srv, "alice", "b", carbons=True)
        dave = await lk.connect(srv, "dave")
        bob = await lk.connect(srv, "bob")
        ok = "carbon ok " + lk.new_id()
        dave.send_msg(srv.jid("alice", "a"), ok,
                      label="nato-secret-nato-only.xml")
        bad = "carbon crypto " + lk.new_id()
        bad_id = dave.send_msg(srv.jid("alice", "a"), bad,
                               label="nato-secret-crypto.xml")
        sent = "carbon sent " + lk.new_id()
        a1.send_msg(srv.jid("bob"), sent, label="nato-restricted.xml")

        el = await a1.wait_for(a1.is_body(ok))
        assert_delivered(el, "nato-secret-nato-only.xml", ok)
        cc = await a2.wait_for(a2.is_carbon(ok, "received"),
                               what="received carbon")
        inner = lk.carbon_inner(cc)[1]
        assert_delivered(inner, "nato-secret-nato-only.xml", ok)

        cc = await a2.wait_for(a2.is_carbon(sent, "sent"), what="sent carbon")
        assert_delivered(lk.carbon_inner(cc)[1], "nato-restricted.xml", sent)
        el = await bob.wait_for(bob.is_body(sent))
        assert_delivered(el, "nato-restricted.xml", sent)

        err = await dave.wait_for(dave.is_error_for(bad_id))
        assert_refusal(err)
        await a1.assert_none(Client.mentions(bad), what="refused message")
        assert not a2.matching(Client.mentions(bad)), a2.dump()
        assert not bob.matching(Client.mentions(bad))
        await lk.close_all(a1, a2, dave, bob)
    lk.run(body)


def test_offline_decided_at_delivery_time(servers):
    """Messages stored for offline users are checked when delivered, with
    the clearance at that time: dave's clearance is lowered while he is
    offline, so his SECRET message is not delivered (and is audited), his
    UNCLASSIFIED one is; zed gets what is releasable to Zoria and not the
    NATO-only SECRET."""
    srv = servers()

    async def body():
        alice = await lk.connect(srv, "alice")
        m = {}
        for key, to, label in (
                ("d-secret", "dave", "nato-secret-rel-xzo.xml"),
                ("d-unclass", "dave", "nato-unclassified.xml"),
                ("z-relxzo", "zed", "nato-secret-rel-xzo.xml"),
                ("z-natoonly", "zed", "nato-secret-nato-only.xml")):
            text = "offline %s %s" % (key, lk.new_id())
            m[key] = (alice.send_msg(srv.jid(to), text, label=label), text,
                      label)
        await asyncio.sleep(1.0)  # stored before the clearance changes
        srv.set_clearance("dave", RESTRICTED)

        dave = await lk.connect(srv, "dave")
        zed = await lk.connect(srv, "zed")
        for c, key in ((dave, "d-unclass"), (zed, "z-relxzo")):
            sid, text, label = m[key]
            el = await c.wait_for(c.is_body(text), what=text)
            assert_delivered(el, label, text)
        await asyncio.sleep(lk.T_QUIET)
        assert not dave.matching(Client.mentions(m["d-secret"][1])), \
            dave.dump()
        assert not zed.matching(Client.mentions(m["z-natoonly"][1])), \
            zed.dump()
        await audit_lines_for(srv, [m["d-secret"][0], m["z-natoonly"][0]])
        await lk.close_all(alice, dave, zed)
    lk.run(body)


def test_iq_with_label_checked_like_messages(servers):
    """An IQ carrying a securitylabel reaches a cleared recipient (who
    answers), is refused with forbidden for an uncleared one (who never
    sees it), and is refused at ingress above the sender's clearance."""
    srv = servers()

    async def body():
        alice = await lk.connect(srv, "alice")
        dave = await lk.connect(srv, "dave")
        bob = await lk.connect(srv, "bob")
        ok = iq_with(alice, srv.jid("dave", "r1"), ping(),
                     "nato-secret-rel-xzo.xml")
        bad = iq_with(alice, srv.jid("bob", "r1"), ping(),
                      "nato-secret-rel-xzo.xml")
        high = iq_with(alice, srv.jid("dave", "r1"), ping(),
                       "nato-secret-crypto.xml")
        r = await alice.wait_for(alice.is_reply_for(ok), what="ping result")
        assert r.get("type") == "result", ET.tostring(r, encoding="unicode")
        assert dave.matching(lambda e: e.get("id") == ok), dave.dump()
        for sid in (bad, high):
            r = await alice.wait_for(alice.is_reply_for(sid))
            assert_refusal(r)
        await asyncio.sleep(lk.T_QUIET)
        assert not bob.matching(lambda e: e.get("id") == bad), bob.dump()
        assert not dave.matching(lambda e: e.get("id") == high), dave.dump()
        await lk.close_all(alice, dave, bob)
    lk.run(body)


# --- 3. forgery -----------------------------------------------------------

def test_forgery_refused_and_audited(servers):
    """Above own clearance, an unknown policy, malformed labels, a label in
    presence: all refused (presence silently dropped) and each one in
    `liaisonctl audit show`; a forged display marking is replaced by the
    SPIF's; no body ever appears in the audit."""
    srv = servers()

    async def body():
        alice = await lk.connect(srv, "alice")
        dave = await lk.connect(srv, "dave")
        to = srv.jid("dave")
        cases = [
            ("above-clearance", "nato-secret-crypto.xml", None,
             {FORBIDDEN}),
            ("unknown-policy", "unknown-policy.xml", None, {FORBIDDEN}),
            ("invalid", "invalid-restricted-crypto.xml", None,
             {BAD_REQUEST}),
            ("malformed", "malformed-no-classification.xml", None,
             {BAD_REQUEST}),
            # Not a 4774 label at all: the spec does not say which of the
            # two; either way it must be refused.
            ("not-4774", None,
             "<x xmlns='urn:example:not-a-label'>SECRET</x>",
             {BAD_REQUEST, FORBIDDEN}),
        ]
        sent = {}
        for name, label, raw, want in cases:
            text = "forgery %s %s" % (name, lk.new_id())
            sent[name] = (alice.send_msg(to, text, label=label,
                                         raw_label=raw), text, want)
        # A forged marking on a label alice may send.
        fake = "UNCLASSIFIED"
        ftext = "forged marking " + lk.new_id()
        fid = alice.send_msg(to, ftext, label="nato-secret-rel-xzo.xml",
                             marking=fake, fg="black", bg="white")
        # Directed presence: plain (control) then labelled.
        plain = alice.make_presence(pto=srv.jid("dave", "r1"),
                                    pstatus="plain " + lk.new_id())
        plain["id"] = lk.new_id("p")
        plain.send()
        labelled = alice.make_presence(pto=srv.jid("dave", "r1"),
                                       pstatus="labelled " + lk.new_id())
        pid = labelled["id"] = lk.new_id("p")
        labelled.xml.append(lk.securitylabel("nato-restricted.xml"))
        labelled.send()

        el = await dave.wait_for(dave.is_body(ftext))
        info = lk.seclabel_info(el)
        assert_marking(info, "nato-secret-rel-xzo.xml", forged=fake)
        for name, (sid, text, want) in sent.items():
            err = await alice.wait_for(alice.is_error_for(sid),
                                       what="%s error" % name)
            assert lk.stanza_error(err) in want, (name, ET.tostring(
                err, encoding="unicode"))
            assert_refusal(err, *lk.stanza_error(err))
        await dave.wait_for(lambda e: e.get("id") == plain["id"],
                            what="the unlabelled directed presence")
        await asyncio.sleep(lk.T_QUIET)
        for name, (sid, text, want) in sent.items():
            assert not dave.matching(Client.mentions(text)), (name,
                                                              dave.dump())
        assert not dave.matching(lambda e: e.get("id") == pid), dave.dump()
        assert not alice.matching(lambda e: e.get("id") == pid), (
            "labelled presence must be dropped without an error: %s"
            % alice.dump())
        ids = [v[0] for v in sent.values()] + [pid]
        found, show = await audit_lines_for(srv, ids)
        for i, line in found.items():
            assert "DENY" in line.upper(), line
            assert "alice@" in line, line
        for sid, text, want in sent.values():
            assert text not in show
        assert ftext not in show
        await lk.close_all(alice, dave)
    lk.run(body)


# --- 4. audit verify and tampering ----------------------------------------

def _audit_log(data):
    p = data / "audit" / "audit.log"
    assert p.is_file(), "no audit log at %s" % p
    return p


def test_audit_verify_and_tamper(servers, tmp_path):
    """After a real run `audit verify` says OK (exit 0); on copies of the
    data folder it exits 1 after one record is edited, one is deleted, or
    the file is cut short (mid-line, or its last line removed)."""
    srv = servers()

    async def body():
        alice = await lk.connect(srv, "alice")
        bob = await lk.connect(srv, "bob")
        ids = []
        for i in range(4):
            ids.append(alice.send_msg(srv.jid("bob"), "audit %d" % i,
                                      label="nato-secret-rel-xzo.xml"))
        ids.append(alice.send_msg(srv.jid("bob"), "audit x",
                                  label="nato-secret-crypto.xml"))
        for sid in ids:
            await alice.wait_for(alice.is_error_for(sid))
        await audit_lines_for(srv, ids)
        await lk.close_all(alice, bob)
    lk.run(body)
    srv.stop()  # flushes and writes the last checkpoint

    p = srv.audit_verify()
    assert p.returncode == 0 and p.stdout.startswith("OK"), p

    def copy(name):
        d = tmp_path / ("copy-" + name)
        lk.copy_data_dir(srv.data, d)
        return d, _audit_log(d)

    d, log = copy("intact")
    p = lk.run_ctl(["audit", "verify"], data=d)
    assert p.returncode == 0 and p.stdout.startswith("OK"), p

    lines = _audit_log(srv.data).read_bytes().split(b"\n")
    rec = [i for i, l in enumerate(lines) if l.startswith(b"R\t")]
    assert len(rec) >= 5, lines
    # A refusal that is not the last record (fields: audit.h).
    deny = [i for i in rec[:-1] if lines[i].split(b"\t")[9] == b"DENY"]
    assert deny, lines
    victim = deny[0]

    # One record edited: its decision turned into a grant.
    d, log = copy("edited")
    ed = list(lines)
    f = ed[victim].split(b"\t")
    f[9] = b"GRANT"
    ed[victim] = b"\t".join(f)
    log.write_bytes(b"\n".join(ed))
    p = lk.run_ctl(["audit", "verify"], data=d)
    assert p.returncode == 1, ("edited record not detected", p)

    # One record deleted (not the last one).
    d, log = copy("deleted")
    log.write_bytes(b"\n".join(l for i, l in enumerate(lines)
                               if i != victim))
    p = lk.run_ctl(["audit", "verify"], data=d)
    assert p.returncode == 1, ("deleted record not detected", p)

    # Cut short in the middle of a line.
    d, log = copy("cut-mid")
    raw = log.read_bytes()
    cut = raw.rfind(b"\n", 0, len(raw) // 2) + 10
    log.write_bytes(raw[:cut])
    p = lk.run_ctl(["audit", "verify"], data=d)
    assert p.returncode == 1, ("log cut mid-line not detected", p)

    # Cut short at a line boundary: the last line (final checkpoint) gone.
    d, log = copy("cut-line")
    raw = log.read_bytes().rstrip(b"\n")
    log.write_bytes(raw[:raw.rfind(b"\n") + 1])
    p = lk.run_ctl(["audit", "verify"], data=d)
    assert p.returncode == 1, ("log without its last line not detected", p)

    # The original is untouched and still verifies.
    assert srv.audit_verify().returncode == 0


def test_audit_records_grants_when_configured(servers):
    """With audit_grants = "all" a delivered labelled message is a GRANT
    record (with its marking, never its body); without it, only refusals
    are recorded."""
    srv = servers(config='audit_grants = "all";\n', name="all")
    off = servers(name="off")

    async def body():
        out = {}
        for s in (srv, off):
            alice = await lk.connect(s, "alice")
            bob = await lk.connect(s, "bob")
            text = "granted " + lk.new_id()
            ok = alice.send_msg(s.jid("bob"), text,
                                label="nato-restricted.xml")
            bad = alice.send_msg(s.jid("bob"), "refused " + lk.new_id(),
                                 label="nato-secret-rel-xzo.xml")
            assert_delivered(await bob.wait_for(bob.is_body(text)),
                             "nato-restricted.xml", text)
            await alice.wait_for(alice.is_error_for(bad))
            found, show = await audit_lines_for(s, [bad])
            out[s] = (ok, text, show)
            await lk.close_all(alice, bob)
        ok, text, _ = out[srv]
        found, show = await audit_lines_for(srv, [ok])
        assert "GRANT" in found[ok].upper(), found[ok]
        assert "DEMO-NATO RESTRICTED" in found[ok], found[ok]
        assert text not in show
        ok, text, show = out[off]
        assert ok not in show, show
    lk.run(body)


# --- 5. modes, catalog, clearances ---------------------------------------

def test_default_label(servers):
    """--default-label: an unlabelled message gets the default label and
    its SPIF marking; the default label is then enforced like any other
    (refused to the Zorian user, who is not cleared for NATO context)."""
    srv = servers(default_label=lk.label_path("nato-unclassified.xml"))

    async def body():
        alice = await lk.connect(srv, "alice")
        bob = await lk.connect(srv, "bob")
        zed = await lk.connect(srv, "zed")
        t1 = "default to bob " + lk.new_id()
        alice.send_msg(srv.jid("bob"), t1)
        t2 = "default to zed " + lk.new_id()
        id2 = alice.send_msg(srv.jid("zed"), t2)
        t3 = "labelled to zed " + lk.new_id()
        alice.send_msg(srv.jid("zed"), t3, label="nato-restricted-rel-xzo.xml")
        el = await bob.wait_for(bob.is_body(t1))
        assert_delivered(el, "nato-unclassified.xml", t1)
        el = await zed.wait_for(zed.is_body(t3))
        assert_delivered(el, "nato-restricted-rel-xzo.xml", t3)
        err = await alice.wait_for(alice.is_error_for(id2))
        assert_refusal(err)
        await zed.assert_none(Client.mentions(t2))
        await lk.close_all(alice, bob, zed)
    lk.run(body)


def test_require_labels(servers):
    """--require-labels: an unlabelled message is refused with modify /
    policy-violation and not delivered; a labelled one still is."""
    srv = servers(require_labels=True)

    async def body():
        alice = await lk.connect(srv, "alice")
        bob = await lk.connect(srv, "bob")
        t1 = "unlabelled " + lk.new_id()
        id1 = alice.send_msg(srv.jid("bob"), t1)
        t2 = "labelled " + lk.new_id()
        alice.send_msg(srv.jid("bob"), t2, label="nato-restricted.xml")
        el = await bob.wait_for(bob.is_body(t2))
        assert_delivered(el, "nato-restricted.xml", t2)
        err = await alice.wait_for(alice.is_error_for(id1))
        assert_refusal(err, "modify", "policy-violation")
        await bob.assert_none(Client.mentions(t1))
        await lk.close_all(alice, bob)
    lk.run(body)


CATALOG_SELECTORS = {
    "DEMO-NATO|UNCLASSIFIED": "nato-unclassified.xml",
    "DEMO-NATO|RESTRICTED": "nato-restricted.xml",
    "DEMO-NATO|SECRET|Releasable to Zoria": "nato-secret-rel-xzo.xml",
    "DEMO-NATO|SECRET|NATO only": "nato-secret-nato-only.xml",
    "DEMO-NATO|SECRET|CRYPTO": "nato-secret-crypto.xml",
}


def test_catalog_per_clearance(servers):
    """The XEP-0258 catalog lists only the configured labels the requester
    may use (targets chosen cleared at least as high as the requester, so
    the answer is the requester's grants), each with its SPIF marking and
    the default flag from the list."""
    cfg = 'catalog = "%s";\n' % lk.label_path("catalog.xml")
    srv = servers(config=cfg)

    async def catalog(c, target):
        sid = lk.new_id("cat")
        iq = c.make_iq_get(ito=srv.domain)
        iq["id"] = sid
        q = ET.SubElement(iq.xml, "{%s}catalog" % NS_CATALOG)
        q.set("to", target)
        c.send(iq)
        el = await c.wait_for(c.is_reply_for(sid), what="catalog")
        assert el.get("type") == "result", ET.tostring(el, encoding="unicode")
        cat = el.find("{%s}catalog" % NS_CATALOG)
        assert cat is not None
        items = {}
        for it in cat.findall("{%s}item" % NS_CATALOG):
            items[it.get("selector")] = it
        return cat, items

    async def body():
        alice = await lk.connect(srv, "alice")
        bob = await lk.connect(srv, "bob")
        zed = await lk.connect(srv, "zed")
        res = {}
        for c, node, target in ((alice, "alice", "dave"),
                                (bob, "bob", "alice"),
                                (zed, "zed", "alice")):
            res[node] = await catalog(c, srv.jid(target))
        await lk.close_all(alice, bob, zed)
        return res
    res = lk.run(body)
    for node, (cat, items) in res.items():
        want = {s for s, lab in CATALOG_SELECTORS.items()
                if granted(lab, node)}
        assert set(items) == want, (node, sorted(items), sorted(want))
        if cat.get("size") is not None:
            assert int(cat.get("size")) == len(want)
        for sel, it in items.items():
            info = lk.seclabel_info(it)
            assert_marking(info, CATALOG_SELECTORS[sel])
            assert (it.get("default") == "true") == \
                (sel == "DEMO-NATO|UNCLASSIFIED"), (sel, it.attrib)
    # The matrix makes these three differ.
    assert len({frozenset(i) for _, i in res.values()}) == 3


def test_clearance_admin_and_nil_clearance(servers):
    """clearance set/show/del; an invalid clearance is refused when
    validated against the policies; a user without a clearance has the nil
    clearance: every labelled message to or from them is refused."""
    srv = servers(users={"alice": NATOSECRET, "bob": RESTRICTED,
                         "nina": None})
    p = srv.ctl("clearance", "show", srv.jid("alice"))
    assert "<Classification>SECRET</Classification>" in p.stdout.replace(
        " ", ""), p.stdout
    assert "DEMO-NATO" in p.stdout
    p = srv.ctl("clearance", "set", srv.jid("bob"),
                lk.label_path("clearance-invalid.xml"), "--spif", lk.NATO_SPIF,
                "--spif", lk.ZORIA_SPIF, check=False)
    assert p.returncode != 0, p
    p = srv.ctl("clearance", "show", srv.jid("bob"))
    assert "SUPERSECRET" not in p.stdout and "RESTRICTED" in p.stdout, p
    p = srv.ctl("clearance", "set", srv.jid("bob"),
                lk.label_path(RESTRICTED), "--spif", lk.NATO_SPIF,
                "--spif", lk.ZORIA_SPIF, check=False)
    assert p.returncode == 0, p
    srv.ctl("clearance", "del", srv.jid("bob"))
    p = srv.ctl("clearance", "show", srv.jid("bob"), check=False)
    assert "RESTRICTED" not in p.stdout, p

    async def body():
        alice = await lk.connect(srv, "alice")
        bob = await lk.connect(srv, "bob")
        nina = await lk.connect(srv, "nina")
        ids = {}
        for name, sender, to in (("to-nina", alice, "nina"),
                                 ("from-nina", nina, "alice"),
                                 ("to-bob-deleted", alice, "bob"),
                                 ("from-bob-deleted", bob, "alice")):
            text = "nil %s %s" % (name, lk.new_id())
            ids[name] = (sender, sender.send_msg(
                srv.jid(to), text, label="nato-unclassified.xml"), text)
        for name, (sender, sid, text) in ids.items():
            err = await sender.wait_for(sender.is_error_for(sid), what=name)
            assert_refusal(err)
        await asyncio.sleep(lk.T_QUIET)
        for c in (alice, bob, nina):
            for name, (sender, sid, text) in ids.items():
                assert not c.matching(c.is_body(text)), (name, c.dump())
        await lk.close_all(alice, bob, nina)
    lk.run(body)


def test_live_clearance_change(servers):
    """A clearance change applies to connected sessions at once, both as
    recipient (dave lowered: the next SECRET message to him is refused)
    and as sender (alice lowered: she can no longer send SECRET)."""
    srv = servers()

    async def body():
        alice = await lk.connect(srv, "alice")
        dave = await lk.connect(srv, "dave")
        zed = await lk.connect(srv, "zed")
        L = "nato-secret-rel-xzo.xml"
        t1 = "before " + lk.new_id()
        alice.send_msg(srv.jid("dave"), t1, label=L)
        t1z = "before zed " + lk.new_id()
        alice.send_msg(srv.jid("zed"), t1z, label=L)
        assert_delivered(await dave.wait_for(dave.is_body(t1)), L, t1)
        assert_delivered(await zed.wait_for(zed.is_body(t1z)), L, t1z)

        srv.set_clearance("dave", RESTRICTED)
        await asyncio.sleep(0.3)
        t2 = "after " + lk.new_id()
        id2 = alice.send_msg(srv.jid("dave"), t2, label=L)
        assert_refusal(await alice.wait_for(alice.is_error_for(id2)))
        t3 = "after restricted " + lk.new_id()
        alice.send_msg(srv.jid("dave"), t3, label="nato-restricted.xml")
        assert_delivered(await dave.wait_for(dave.is_body(t3)),
                         "nato-restricted.xml", t3)

        srv.set_clearance("alice", RESTRICTED)
        await asyncio.sleep(0.3)
        t4 = "alice lowered " + lk.new_id()
        id4 = alice.send_msg(srv.jid("zed"), t4, label=L)
        assert_refusal(await alice.wait_for(alice.is_error_for(id4)))
        await asyncio.sleep(lk.T_QUIET)
        assert not dave.matching(Client.mentions(t2)), dave.dump()
        assert not zed.matching(Client.mentions(t4)), zed.dump()
        await lk.close_all(alice, dave, zed)
    lk.run(body)


# --- 10. hostile labels: malformed shapes, forged alternatives, size -----
# Liaison-only like the whole module: Prosody does not enforce labels.

UNCLEARED_ZORIA = "clearance-zoria-unclassified.xml"  # ZORIA UNCLASSIFIED
#   only, Distribution ZORIA+NATO
MALFORMED_TEXT = "malformed security label"
INVALID_TEXT = "invalid security label"


def _shapes():
    """Each securitylabel shape that is not exactly one well-formed label
    (XEP-0258 sec-label.xsd: <label> holds at most one element and no
    text; one <label>; only displaymarking, label, equivalentlabel), as
    (name, [securitylabel elements], reason in the audit record)."""
    lab = lk.label_body("nato-restricted.xml")
    alt = lk.label_body("zoria-official-nato.xml").replace(
        "originatorConfidentialityLabel", "alternativeConfidentialityLabel")
    raw = lk.raw_securitylabel
    return [
        ("label-text", [raw("<label>!!garbage&amp;...</label>")],
         "holds text"),
        ("label-mixed", [raw("<label>!!garbage%s</label>" % lab)],
         "holds text"),
        ("label-two-elements", [raw("<label>%s%s</label>" % (lab, lab))],
         "more than one element"),
        ("two-labels", [raw("<label>%s</label><label>%s</label>"
                            % (lab, lab))], "more than one <label>"),
        ("no-label", [raw("<displaymarking>DEMO-NATO RESTRICTED"
                          "</displaymarking>")], "no <label>"),
        ("unknown-child", [raw("<label>%s</label><x xmlns='urn:example'>"
                               "!!garbage</x>" % lab)],
         "unexpected element"),
        ("text-outside", [raw("!!garbage<label>%s</label>" % lab)],
         "holds text"),
        ("two-markings", [raw("<displaymarking>A</displaymarking>"
                              "<displaymarking>B</displaymarking>"
                              "<label>%s</label>" % lab)],
         "more than one displaymarking"),
        ("alternative-in-label", [raw("<label>%s</label>" % alt)],
         "not a STANAG 4774 originator label"),
        ("originator-as-equivalent", [raw(
            "<label>%s</label><equivalentlabel>%s</equivalentlabel>"
            % (lab, lab))], "not one alternativeConfidentialityLabel"),
        ("empty-label-and-equivalent", [raw(
            "<label/><equivalentlabel>%s</equivalentlabel>" % alt)],
         "with an empty <label>"),
        ("two-securitylabels", [raw("<label>%s</label>" % lab),
                                raw("<label>%s</label>" % lab)],
         "more than one securitylabel"),
    ]


async def _refused_everywhere(srv, sender, recipient, cases, etype, cond,
                              text, rule):
    """cases: [(name, msg id, body, audit reason)].  Each message came back
    to the sender as etype/cond with `text` and no label, the recipient
    got nothing of it, and the audit log has a DENY record naming `rule`
    and the reason."""
    for name, sid, body, why in cases:
        err = await sender.wait_for(sender.is_error_for(sid),
                                    what="the error for %s" % name)
        assert_refusal(err, etype, cond)
        assert lk.stanza_error_text(err) == text, (name, ET.tostring(
            err, encoding="unicode"))
        assert "garbage" not in ET.tostring(err, encoding="unicode")
    await asyncio.sleep(lk.T_QUIET)
    for name, sid, body, why in cases:
        assert not recipient.matching(Client.mentions(body)), (
            name, recipient.dump())
    assert not recipient.matching(Client.mentions("garbage")), \
        recipient.dump()
    found, show = await audit_lines_for(srv, [c[1] for c in cases])
    for name, sid, body, why in cases:
        line = found[sid]
        assert "DENY" in line.upper(), (name, line)
        assert rule in line and why in line, (name, rule, why, line)
        assert body not in show


def test_malformed_label_shapes_refused(servers):
    """Every securitylabel that is not exactly one well-formed label
    (text in <label>, mixed content, two elements, two <label>s, no
    <label>, an unknown child, text beside <label>, two markings, an
    alternative where the label goes, an originator as equivalent, an
    equivalent with an empty label, two securitylabels) is refused with
    modify/bad-request "malformed security label", reaches no one, is
    audited with its reason; a valid labelled message is delivered
    after them all."""
    srv = servers()

    async def body():
        alice = await lk.connect(srv, "alice")
        bob = await lk.connect(srv, "bob")
        cases = []
        for name, els, why in _shapes():
            text = "shape %s %s" % (name, lk.new_id())
            sid = alice.send_msg_els(srv.jid("bob"), text, els)
            cases.append((name, sid, text, why))
        await _refused_everywhere(srv, alice, bob, cases, "modify",
                                  "bad-request", MALFORMED_TEXT,
                                  "malformed label")
        ok = "after the shapes " + lk.new_id()
        alice.send_msg(srv.jid("bob"), ok, label="nato-restricted.xml")
        el = await bob.wait_for(bob.is_body(ok))
        assert_delivered(el, "nato-restricted.xml", ok)
        await lk.close_all(alice, bob)
    lk.run(body)


def test_delivered_label_is_the_servers(servers):
    """A valid label wrapped in whitespace, with attributes on <label>
    and a forged marking, is delivered; the recipient's securitylabel
    is the one the server built (SPIF marking, the label written from its
    parsed form): nothing of the client's element is passed on.  An
    empty <label/> without a default label is refused with
    modify/policy-violation."""
    srv = servers()

    async def body():
        alice = await lk.connect(srv, "alice")
        bob = await lk.connect(srv, "bob")
        lab = lk.label_body("nato-restricted.xml")
        sl = lk.raw_securitylabel(
            "\n <displaymarking fgcolor='green'>FORGED UNCLASSIFIED"
            "</displaymarking>\n <label evil='1'>\n  %s\n </label>\n" % lab)
        text = "wrapped " + lk.new_id()
        alice.send_msg_els(srv.jid("bob"), text, [sl])
        el = await bob.wait_for(bob.is_body(text))
        assert_delivered(el, "nato-restricted.xml", text)
        got = el.find("{%s}securitylabel" % NS_SECLABEL)
        s = ET.tostring(got, encoding="unicode")
        assert "FORGED" not in s and "evil" not in s and "green" not in s
        assert [c.tag.split("}")[1] for c in got] == [
            "displaymarking", "label"], s
        empty = "empty label " + lk.new_id()
        eid = alice.send_msg_els(srv.jid("bob"), empty,
                                 [lk.raw_securitylabel("<label/>")])
        err = await alice.wait_for(alice.is_error_for(eid))
        assert_refusal(err, "modify", "policy-violation")
        await bob.assert_none(Client.mentions(empty))
        found, _ = await audit_lines_for(srv, [eid])
        assert "empty label, no default" in found[eid]
        await lk.close_all(alice, bob)
    lk.run(body)


def test_forged_alternative_label_refused(servers):
    """DEMO-NATO SECRET with an alternativeConfidentialityLabel saying
    ZORIA UNCLASSIFIED (the SPIF equivalence makes ZORIA TOP SECRET of
    it): `liaisonctl label check` says DENY with the reason for a ZORIA
    UNCLASSIFIED clearance (the same label without the alternative is
    DENY by rule 3.3.2); the server refuses it with modify/bad-request,
    delivers it to no one (not even a user cleared for the true label)
    and audits it as a forged alternative.  The true alternative is
    accepted and decides as the originator: refused to the ZORIA
    UNCLASSIFIED user, delivered to zed with the server's TOP SECRET
    mapping as the equivalent label."""
    rc, out = lk.label_check("forged-alt-nato-secret.xml", UNCLEARED_ZORIA)
    assert rc == 1 and out.startswith("DENY: alternative label is not the "
                                      "equivalent of the label"), out
    rc, out = lk.label_check("nato-secret-rel-xzo.xml", UNCLEARED_ZORIA)
    assert rc == 1 and out.startswith("DENY: rule 3.3.2"), out
    rc, out = lk.label_check("honest-alt-nato-secret.xml", UNCLEARED_ZORIA)
    assert rc == 1 and out.startswith("DENY: rule 3.3.2"), out
    p = lk.run_ctl(["label", "validate", "--spif", *lk.SPIFS, "--label",
                    lk.label_path("forged-alt-nato-secret.xml")])
    assert p.returncode == 1 and "not the equivalent" in p.stdout, p
    srv = servers(users={**USERS, "ulla": UNCLEARED_ZORIA})

    async def body():
        alice = await lk.connect(srv, "alice")
        ulla = await lk.connect(srv, "ulla")
        zed = await lk.connect(srv, "zed")
        cases = []
        for who in ("ulla", "zed"):
            text = "forged alternative to %s %s" % (who, lk.new_id())
            sid = alice.send_msg_els(srv.jid(who), text, [
                lk.seclabel_file("forged-alt-nato-secret.xml")])
            cases.append((who, sid, text, "not the equivalent of the "
                          "label: classification UNCLASSIFIED"))
        await _refused_everywhere(srv, alice, ulla, cases[:1], "modify",
                                  "bad-request", INVALID_TEXT,
                                  "forged alternative label")
        await _refused_everywhere(srv, alice, zed, cases[1:], "modify",
                                  "bad-request", INVALID_TEXT,
                                  "forged alternative label")
        # Without the alternative, and with the true one: refused to ulla
        # at delivery (rule 3.3.2), delivered to zed.
        plain = "plain to ulla " + lk.new_id()
        pid = alice.send_msg(srv.jid("ulla"), plain,
                             label="nato-secret-rel-xzo.xml")
        honest = "honest to ulla " + lk.new_id()
        hid = alice.send_msg_els(srv.jid("ulla"), honest, [
            lk.seclabel_file("honest-alt-nato-secret.xml")])
        hz = "honest to zed " + lk.new_id()
        alice.send_msg_els(srv.jid("zed"), hz, [
            lk.seclabel_file("honest-alt-nato-secret.xml")])
        el = await zed.wait_for(zed.is_body(hz))
        assert_delivered(el, "nato-secret-rel-xzo.xml", hz)
        eq = el.findall("{%s}securitylabel/{%s}equivalentlabel/"
                        "{%s}alternativeConfidentialityLabel"
                        % (NS_SECLABEL, NS_SECLABEL, NS_4774))
        assert len(eq) == 1, ET.tostring(el, encoding="unicode")
        assert eq[0].find(".//{%s}Classification" % NS_4774).text == \
            "TOP SECRET"
        for sid in (pid, hid):
            err = await alice.wait_for(alice.is_error_for(sid))
            assert_refusal(err)
        await ulla.assert_none(Client.mentions(plain))
        assert not ulla.matching(Client.mentions(honest)), ulla.dump()
        found, _ = await audit_lines_for(srv, [pid, hid])
        for sid in (pid, hid):
            assert "rule 3.3.2" in found[sid], found[sid]
        await lk.close_all(alice, ulla, zed)
    lk.run(body)


def _big_label(values):
    """nato-unclassified with the Context value NATO given `values`
    times."""
    return lk.label_body("nato-unclassified.xml").replace(
        "<GenericValue>NATO</GenericValue>",
        "<GenericValue>NATO</GenericValue>" * values)


def test_oversized_and_repeated_value_labels_refused(servers, tmp_path):
    """An UNCLASSIFIED label with 5,000 repeated values (about 170 KB) is
    refused unparsed (larger than label_max_bytes) as malformed; one with
    three repeated values is refused as invalid (rule 3.2.3); both are
    audited and reach no one, and a valid label is delivered after them.
    label_max_bytes is a setting: a valid 3 KB label is delivered with
    the default and refused with label_max_bytes = 2048."""
    big = _big_label(5000)
    assert len(big) > 150000
    p = lk.run_ctl(["label", "validate", "--spif", *lk.SPIFS, "--label",
                    lk.label_path("nato-unclassified.xml")])
    assert p.returncode == 0
    f = tmp_path / "dup.xml"
    f.write_text(_big_label(3), encoding="utf-8")
    p = lk.run_ctl(["label", "validate", "--spif", *lk.SPIFS, "--label", f])
    assert p.returncode == 1 and "'NATO' is given more than once" in \
        p.stdout, p
    padded = lk.label_body("nato-restricted.xml").replace(
        "</Classification>",
        "</Classification><PrivacyMark>%s</PrivacyMark>" % ("x" * 3000))
    srv = servers()
    small = servers(name="small", config="label_max_bytes = 2048;\n")

    async def body():
        alice = await lk.connect(srv, "alice")
        bob = await lk.connect(srv, "bob")
        t1 = "oversized " + lk.new_id()
        id1 = alice.send_msg(srv.jid("bob"), t1, raw_label=big)
        t2 = "repeated " + lk.new_id()
        id2 = alice.send_msg(srv.jid("bob"), t2, raw_label=_big_label(3))
        await _refused_everywhere(
            srv, alice, bob, [("oversized", id1, t1, "larger than "
                               "label_max_bytes (8192)")], "modify",
            "bad-request", MALFORMED_TEXT, "malformed label")
        await _refused_everywhere(
            srv, alice, bob, [("repeated", id2, t2, "'NATO' is given more "
                               "than once")], "modify", "bad-request",
            INVALID_TEXT, "invalid label: rule 3.2.3")
        t3 = "padded " + lk.new_id()
        alice.send_msg(srv.jid("bob"), t3, raw_label=padded)
        el = await bob.wait_for(bob.is_body(t3))
        assert_delivered(el, "nato-restricted.xml", t3)
        ok = "after the big ones " + lk.new_id()
        alice.send_msg(srv.jid("bob"), ok, label="nato-unclassified.xml")
        el = await bob.wait_for(bob.is_body(ok))
        assert_delivered(el, "nato-unclassified.xml", ok)
        await lk.close_all(alice, bob)

        alice = await lk.connect(small, "alice")
        bob = await lk.connect(small, "bob")
        t4 = "padded on small " + lk.new_id()
        id4 = alice.send_msg(small.jid("bob"), t4, raw_label=padded)
        await _refused_everywhere(
            small, alice, bob, [("padded", id4, t4, "larger than "
                                 "label_max_bytes (2048)")], "modify",
            "bad-request", MALFORMED_TEXT, "malformed label")
        ok = "small still delivers " + lk.new_id()
        alice.send_msg(small.jid("bob"), ok, label="nato-restricted.xml")
        el = await bob.wait_for(bob.is_body(ok))
        assert_delivered(el, "nato-restricted.xml", ok)
        await lk.close_all(alice, bob)
    lk.run(body)
