"""XEP-0077 in-band registration: off by default, on through the config.

Each target is started twice here, in its own folder: once as the suite
starts it (registration off) is the shared `server` fixture; once with
registration switched on (Prosody: allow_registration = true and
mod_register; Liaison: `registration = true;` in a -c config file).
"""
import os
import xml.etree.ElementTree as ET

import pytest

import targets
from client import RawStream, stanza_error

NS_REG = "jabber:iq:register"
NS_REG_FEATURE = "http://jabber.org/features/iq-register"
NS_STREAM = "http://etherx.jabber.org/streams"


def start_with_registration(name, workdir):
    if name == "prosody":
        t = targets.ProsodyTarget(workdir)
        orig = targets.PROSODY_CFG
        targets.PROSODY_CFG = orig.replace(
            "allow_registration = false", "allow_registration = true").replace(
            '"offline"; "presence"; "carbons";',
            '"offline"; "presence"; "carbons"; "register";')
        try:
            t.start()
        finally:
            targets.PROSODY_CFG = orig
        return t
    cfg = os.path.join(str(workdir), "reg.conf")
    with open(cfg, "w") as f:
        f.write("registration = true;\n")
    t = targets.LiaisonTarget(workdir)
    old = os.environ.get("LIAISON_CONFIG")
    os.environ["LIAISON_CONFIG"] = cfg
    try:
        t.start()
    finally:
        if old is None:
            del os.environ["LIAISON_CONFIG"]
        else:
            os.environ["LIAISON_CONFIG"] = old
    return t


@pytest.fixture(scope="module", params=targets.selected_targets())
def reg_server(request, tmp_path_factory):
    t = start_with_registration(request.param,
                                tmp_path_factory.mktemp(request.param + "-reg"))
    yield t
    t.stop()


def register(server, user, password, iq_id="reg1"):
    s = RawStream(server)
    try:
        feats = s.starttls()
        s.send("<iq type='set' id='%s'><query xmlns='%s'><username>%s</username>"
               "<password>%s</password></query></iq>" % (iq_id, NS_REG, user, password))
        el = s.wait(lambda e: e.get("id") == iq_id or e.tag == "{%s}error" % NS_STREAM,
                    what="registration answer")
        return feats, el
    finally:
        s.close()


def test_registration_off_by_default(server):
    feats, el = None, None
    s = RawStream(server)
    try:
        feats = s.starttls()
        assert feats.find("{%s}register" % NS_REG_FEATURE) is None, ET.tostring(feats)
        s.send("<iq type='set' id='r1'><query xmlns='%s'><username>intruder</username>"
               "<password>x1</password></query></iq>" % NS_REG)
        try:
            el = s.wait(lambda e: e.get("id") == "r1" or e.tag == "{%s}error" % NS_STREAM,
                        what="refusal")
        except Exception:
            el = None  # the server closed the stream: also a refusal
    finally:
        s.close()
    if el is not None and el.tag.endswith("}iq"):
        assert el.get("type") == "error", ET.tostring(el)
    # Whatever the refusal looked like, the account does not exist.
    r = RawStream(server)
    try:
        r.starttls()
        assert r.sasl_plain("intruder", "x1") == "not-authorized"
    finally:
        r.close()


def test_registration_when_enabled(reg_server):
    feats, el = register(reg_server, "newbie", "n3wb1e-pass")
    assert feats.find("{%s}register" % NS_REG_FEATURE) is not None, ET.tostring(feats)
    assert el.tag.endswith("}iq") and el.get("type") == "result", ET.tostring(el)
    # The new account logs in, and a second registration of it conflicts.
    s = RawStream(reg_server)
    try:
        s.login("newbie", "n3wb1e-pass")
    finally:
        s.close()
    _, el = register(reg_server, "newbie", "other-pass", "reg2")
    assert el.get("type") == "error" and stanza_error(el) == "conflict", ET.tostring(el)
