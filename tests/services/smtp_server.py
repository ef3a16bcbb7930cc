#!/usr/bin/env python3
"""A real SMTP server for the email plugin's tests (aiosmtpd).

Writes each message it accepts to <out>/<n>.eml, its envelope to
<out>/<n>.json ({"from", "to", "auth"}), and "ready" to <out>/ready once it
listens. Recipients whose address starts with "reject" are refused for good
(550), "tempfail" for now (451). Stops on SIGTERM.

  smtp_server.py --port P --out DIR [--cert F --key F [--implicit]] [--auth USER:PASS]
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Recorder:
    def __init__(self, out):
        self.out = out
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 no such user here"
        if address.startswith("tempfail"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.out, str(n))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json.tmp", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos, "auth": session.auth_data,
                       "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None}, f)
        os.rename(base + ".json.tmp", base + ".json")
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 queued as %d" % n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--implicit", action="store_true")
    p.add_argument("--auth")
    a = p.parse_args()

    context = None
    if a.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.cert, a.key)

    def authenticate(server, session, envelope, mechanism, auth_data):
        if not a.auth or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = a.auth.split(":", 1)
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    kwargs = dict(hostname="127.0.0.1", port=a.port)
    if a.auth:
        kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=True)
    if context and a.implicit:
        kwargs.update(ssl_context=context)
    elif context:
        kwargs.update(tls_context=context, require_starttls=True)
    controller = Controller(Recorder(a.out), **kwargs)
    controller.start()
    with open(os.path.join(a.out, "ready"), "w") as f:
        f.write("ready")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
