"""pytest harness: one fresh server per target, shared by the session's tests.

LIAISON_TARGETS   comma list of targets to run (default "prosody,liaison").
                  A listed target whose programs are missing FAILS every test;
                  only leaving it out of the list skips it.
LIAISON_BUILD     folder holding liaisond and liaisonctl (default <repo>/build).
LIAISON_CONFIG    optional libconfig file passed to liaisond with -c.
LIAISON_CA        CA file to verify Liaison with (default DATA/certs/ca.pem).

Each test gets `server` (a targets.Target) and `new_user` (makes a fresh
account, returns (jid, password)).  After each test the server must still be
alive (no crash, no sanitizer report); at the end it is stopped and checked.
"""

import itertools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import targets  # noqa: E402

TARGET_NAMES = targets.selected_targets()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "liaison_only: a Liaison behaviour Prosody does not have")


@pytest.fixture(scope="session", params=TARGET_NAMES)
def server(request, tmp_path_factory):
    name = request.param
    workdir = tmp_path_factory.mktemp(name)
    target = targets.TARGETS[name](workdir)
    try:
        target.start()
    except targets.TargetError as e:
        try:
            if target.proc and target.proc.poll() is None:
                target.proc.kill()
                target.proc.wait(timeout=10)
        finally:
            pytest.fail("cannot start target %s: %s" % (name, e), pytrace=False)
    target.counter = itertools.count(1)
    yield target
    try:
        target.stop()
    except targets.TargetError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(autouse=True)
def _server_stays_alive(request):
    # Only for tests that use the shared `server` (other suites in this
    # folder may start their own servers).
    if "server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("server")
    marker = request.node.get_closest_marker("liaison_only")
    if marker and server.name != "liaison":
        pytest.skip("Liaison-only behaviour")
    yield
    try:
        server.check_alive()
    except targets.TargetError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def new_user(server, request):
    """new_user(prefix='u') -> (bare JID, password) of a fresh account."""
    def make(prefix="u"):
        n = next(server.counter)
        local = "%s%d" % (prefix, n)
        password = "pw-%s-%d-secret" % (prefix, n)
        jid = server.add_user(local, password)
        return jid, password
    return make


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and "server" in getattr(item, "funcargs", {}):
        srv = item.funcargs["server"]
        report.sections.append(("%s log (last lines)" % srv.name,
                                targets.tail(srv.log, 30) or "(no log)"))
