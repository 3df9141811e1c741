"""Authentication throttling: wrong passwords from one address are answered
later and later, then that address is blocked (temporary-auth-failure, the
stream closed with policy-violation) for a while; an account attacked from
several addresses is blocked for those addresses only; the real user from
another address logs in throughout; chatting sessions are not disturbed.

Liaison runs here with small settings of its own (a server per test, so a
block does not reach other tests).  Prosody 0.12 in Debian has no
mod_limit_auth (a community module, not packaged), so only the part that
holds for any server runs against it: after a burst of wrong passwords the
right one from another address still logs in, and chatting goes on.
Timing is asserted only as lower bounds (the server must have waited at
least that long), which load cannot break.

Other loopback addresses (127.0.0.2, 127.0.0.10...) stand for other hosts:
the servers listen on 127.0.0.1, and a socket bound to 127.0.0.2 reaches
them with that source address.
"""

import itertools
import time

import pytest

import targets
from client import (NS_SASL, NS_STREAM, ClientError, RawStreamFrom,
                    StreamClosed, local_part)
from test_hostile import under_attack

SETTINGS = {
    "auth_fail_delay_after": 2,
    "auth_fail_delay": 200,          # ms, doubling
    "auth_fail_delay_max": 400,
    "auth_fail_block_after": 8,
    "auth_fail_account_block_after": 6,
    "auth_fail_block_time": 5,       # s
    "auth_fail_window": 60,
    "auth_fail_per_stream": 4,
}
BLOCK_S = SETTINGS["auth_fail_block_time"]


@pytest.fixture
def target(request, server, tmp_path, monkeypatch):
    """Liaison: a fresh server with SETTINGS.  Prosody: the shared one."""
    if server.name != "liaison":
        yield server
        return
    cfg = tmp_path / "authlimit.conf"
    cfg.write_text("".join("%s = %d;\n" % kv for kv in SETTINGS.items()))
    monkeypatch.setenv("LIAISON_CONFIG", str(cfg))
    (tmp_path / "srv").mkdir()
    t = targets.LiaisonTarget(tmp_path / "srv")
    t.start()
    t.counter = itertools.count(1)
    # conftest's failure report shows server.log: this server's, for now.
    monkeypatch.setattr(server, "log", t.log)
    try:
        yield t
    finally:
        t.stop()


def user_maker(t):
    def make(prefix="al"):
        n = next(t.counter)
        local = "%s%d" % (prefix, n)
        pw = "pw-%s-%d-Secret" % (prefix, n)
        return t.add_user(local, pw), pw
    return make


def stream_error_of(s):
    for el in s.elements:
        if el.tag == "{%s}error" % NS_STREAM:
            for child in el:
                if not child.tag.endswith("}text"):
                    return child.tag.split("}", 1)[1]
    return None


class Attempts:
    """Wrong (or right) PLAIN logins from one source address, as fast as
    the server answers them; a new connection whenever it closes one."""

    def __init__(self, t, source="127.0.0.1"):
        self.t = t
        self.source = source
        self.s = None
        self.connections = 0
        self.stream_errors = []

    def _stream(self):
        if self.s is not None and not self.s.closed and stream_error_of(self.s) is None:
            return self.s
        if self.s is not None:
            self.s.close()
        self.s = RawStreamFrom(self.t, self.source)
        self.s.starttls()
        self.connections += 1
        return self.s

    def one(self, user, password):
        """Returns (outcome, seconds until the answer)."""
        s = self._stream()
        start = time.monotonic()
        try:
            out = s.sasl_plain(user, password)
        except StreamClosed:
            out = "closed"
        took = time.monotonic() - start
        s.poll_read(0)
        cond = stream_error_of(s)
        if cond is not None:
            self.stream_errors.append(cond)
        return out, took

    def close(self):
        if self.s is not None:
            self.s.close()


def login_from(t, source, user, password):
    a = Attempts(t, source)
    try:
        return a.one(user, password)[0]
    finally:
        a.close()


def log_text(t):
    return t.log.read_text(errors="replace")


# ------------------------------------------------------------ any server

def test_burst_of_wrong_passwords_spares_other_address(target):
    """50 wrong passwords from 127.0.0.1; the right one from 127.0.0.2
    logs in.  On Liaison the burst is also slowed and then blocked."""
    jid, pw = user_maker(target)()
    user = local_part(jid)
    a = Attempts(target)
    try:
        outcomes = [a.one(user, "wrong-%d" % i) for i in range(50)]
    finally:
        a.close()
    assert all(o in ("not-authorized", "temporary-auth-failure")
               for o, _ in outcomes), outcomes
    assert login_from(target, "127.0.0.2", user, pw) == "success"
    if target.name == "liaison":
        # One account from one address: its account budget (6) runs out
        # before the address budget (8).
        blocked = [o for o, _ in outcomes].index("temporary-auth-failure")
        assert blocked == SETTINGS["auth_fail_account_block_after"], outcomes
        assert all(o == "temporary-auth-failure" for o, _ in outcomes[blocked:])
        assert "policy-violation" in a.stream_errors
        # While blocked, even the right password from 127.0.0.1 is refused.
        assert login_from(target, "127.0.0.1", user, pw) == "temporary-auth-failure"


def test_chatting_pair_undisturbed_by_attack(target):
    make = user_maker(target)
    jid, pw = make()

    def attack(_a, _b):
        at = Attempts(target)
        try:
            return [at.one(local_part(jid), "nope")[0] for _ in range(50)]
        finally:
            at.close()
    outcomes, _a, _b = under_attack(target, make, attack)
    assert "success" not in outcomes
    if target.name == "liaison":
        assert "temporary-auth-failure" in outcomes


# ------------------------------------------------------------ Liaison only

@pytest.mark.liaison_only
def test_one_connection_slowed_then_closed(target):
    jid, _pw = user_maker(target)()
    a = Attempts(target)
    try:
        res = [a.one(local_part(jid), "bad") for _ in range(SETTINGS["auth_fail_per_stream"])]
        assert [o for o, _ in res] == ["not-authorized"] * len(res), res
        # Failures 3 and 4 of the address: held 200 ms, then 400 ms.
        assert res[2][1] >= 0.19 and res[3][1] >= 0.39, res
        # The per-stream budget is spent: the stream ends.
        assert a.stream_errors == ["policy-violation"], a.stream_errors
        assert a.s.read_until_closed(10)
        assert a.connections == 1
    finally:
        a.close()


@pytest.mark.liaison_only
def test_pipelined_burst_not_answered_at_once(target):
    jid, _pw = user_maker(target)()
    s = RawStreamFrom(target, "127.0.0.3")
    try:
        s.starttls()
        token = "AGZvbwBiYXI="      # \0foo\0bar
        s.send("".join("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>"
                       % (NS_SASL, token) for _ in range(50)))
        assert s.read_until_closed(15)
        answers = [e for e in s.elements if e.tag == "{%s}failure" % NS_SASL]
        assert len(answers) <= 1, len(answers)
        assert stream_error_of(s) == "policy-violation"
    finally:
        s.close()


@pytest.mark.liaison_only
def test_block_ends_after_block_time(target):
    jid, pw = user_maker(target)()
    user = local_part(jid)
    a = Attempts(target, "127.0.0.4")
    wrong = "Wr0ng-Pass-4774"
    try:
        # A spray of accounts from one address: the address budget.
        for i in itertools.count():
            out, _ = a.one("nobody%d" % i, wrong)
            if out == "temporary-auth-failure":
                break
            assert out == "not-authorized"
            assert a.connections < 10, "never blocked"
        blocked_at = time.monotonic()
    finally:
        a.close()
    assert login_from(target, "127.0.0.4", user, pw) == "temporary-auth-failure"
    time.sleep(max(0.0, blocked_at + BLOCK_S + 1.0 - time.monotonic()))
    assert login_from(target, "127.0.0.4", user, pw) == "success"
    text = log_text(target)
    assert "blocking address 127.0.0.4" in text
    assert "authentication refused: address 127.0.0.4 is blocked" in text
    assert pw not in text and wrong not in text


@pytest.mark.liaison_only
def test_account_block_spares_addresses_that_never_failed(target):
    jid, pw = user_maker(target)()
    user = local_part(jid)
    n = SETTINGS["auth_fail_account_block_after"]
    # One wrong password from each of n addresses: the account is blocked,
    # for those addresses, though none reached its own address budget.
    for i in range(n):
        assert login_from(target, "127.0.0.%d" % (10 + i), user, "bad") == "not-authorized"
    assert login_from(target, "127.0.0.10", user, pw) == "temporary-auth-failure"
    # The real user elsewhere is not locked out, and that address can log
    # in to other accounts too.
    assert login_from(target, "127.0.0.2", user, pw) == "success"
    other, opw = user_maker(target)()
    assert login_from(target, "127.0.0.11", local_part(other), opw) == "success"
    text = log_text(target)
    assert "blocking account %s" % user in text
    assert pw not in text


@pytest.mark.liaison_only
def test_success_clears_the_address(target):
    jid, pw = user_maker(target)()
    user = local_part(jid)
    a = Attempts(target, "127.0.0.5")
    try:
        for _ in range(3):
            assert a.one(user, "bad")[0] == "not-authorized"
        assert a.one(user, pw)[0] == "success"
    finally:
        a.close()
    # Counted afresh: the next two failures are not held.
    a = Attempts(target, "127.0.0.5")
    try:
        other, _ = user_maker(target)()
        res = [a.one(local_part(other), "bad") for _ in range(2)]
        assert [o for o, _ in res] == ["not-authorized"] * 2
    finally:
        a.close()
    text = log_text(target)
    assert "(1 failures from the address" in text.split("authenticated %s@" % user)[-1]
