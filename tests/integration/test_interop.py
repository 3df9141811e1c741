"""Other standard clients reach our clients: go-sendxmpp (Debian)."""

import os
import shutil
import subprocess

import pytest

from client import Client, run


def go_sendxmpp(server, jid, password, to, text, direct_tls=False):
    exe = shutil.which("go-sendxmpp")
    if exe is None:
        pytest.fail("go-sendxmpp is not installed (apt-get install go-sendxmpp)")
    port = server.tls_port if direct_tls else server.c2s_port
    argv = [exe, "-u", jid, "-p", password, "-j", "127.0.0.1:%d" % port,
            "--timeout", "10"]
    env = dict(os.environ, HOME=str(server.workdir))
    if server.ca_file:
        env["SSL_CERT_FILE"] = server.ca_file   # Go's crypto/x509 reads it
    else:
        argv.append("-n")
    if direct_tls:
        argv.append("-t")
    argv.append(to)
    return subprocess.run(argv, input=text, capture_output=True, text=True,
                          timeout=30, env=env, cwd=server.workdir)


@pytest.mark.parametrize("direct_tls", [False, True], ids=["starttls", "directtls"])
def test_go_sendxmpp_message_reaches_slixmpp(server, new_user, direct_tls):
    (js, ps), (jr, pr) = new_user("gosend"), new_user("reader")
    text = "sent by go-sendxmpp over %s" % ("direct TLS" if direct_tls else "STARTTLS")

    async def scenario():
        r = Client(server, jr, pr, "reader")
        await r.login()
        try:
            loop = __import__("asyncio").get_running_loop()
            res = await loop.run_in_executor(
                None, go_sendxmpp, server, js, ps, jr, text, direct_tls)
            assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
            m = await r.expect_body(text)
            assert m["from"].bare == js
        finally:
            await r.logout()
    run(scenario())
