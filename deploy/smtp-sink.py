#!/usr/bin/env python3
"""smtp-sink: an SMTP server that records every message it is given and never relays one.

refroute's notification service sends email over SMTP; this is the server it talks to where no
real mail should leave the machine. deploy/run.sh (the quick start) runs it, and the end-to-end
tests (tests/src/mail.rs) start one of their own on loopback for each test that sends mail.

Each message accepted is appended to --out as one JSON object on its own line (flushed and
fsynced before the server answers 250), with the envelope, whether the session was under TLS,
refroute's X-Refroute-Notification-Id header, the decoded subject, every header, and the
decoded text/plain body (its lines ending in LF, not SMTP's CRLF). With --cert and --key it
offers STARTTLS with that certificate; with --require-starttls it also refuses MAIL (and
everything else but EHLO, HELO, NOOP, RSET, QUIT and STARTTLS) before STARTTLS, as a server
that insists on TLS does.

Prints "smtp-sink ready on HOST:PORT" to stdout once listening; stops on SIGTERM or SIGINT.
Needs aiosmtpd 1.4.6 (deploy/ensure-services.sh installs it).
"""

import argparse
import asyncio
import datetime
import email.policy
import json
import os
import signal
import ssl
import sys
from email.parser import BytesParser

from aiosmtpd.smtp import SMTP

# What the server calls itself in its greeting: naming it avoids socket.getfqdn(), which can
# wait on DNS.
SERVER_NAME = "refroute-smtp-sink"


class Recorder:
    """The aiosmtpd handler: appends each message to the out file, then answers 250."""

    def __init__(self, out_path: str):
        self.out_path = out_path

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        message = BytesParser(policy=email.policy.default).parsebytes(content)
        headers: dict[str, str] = {}
        for name, value in message.items():
            value = str(value)
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        body_part = message.get_body(preferencelist=("plain",))
        body = ""
        if body_part is not None:
            try:
                body = body_part.get_content()
            except (LookupError, ValueError):
                payload = body_part.get_payload(decode=True) or b""
                body = payload.decode("utf-8", "replace")
        # Lines end as the sender wrote them, not as SMTP carried them.
        body = body.replace("\r\n", "\n")
        notification_id = message.get("X-Refroute-Notification-Id")
        message_id = message.get("Message-ID")
        record = {
            "received_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "tls": session.ssl is not None,
            "notification_id": None if notification_id is None else str(notification_id).strip(),
            "message_id": None if message_id is None else str(message_id).strip(),
            "subject": str(message.get("Subject", "")),
            "headers": headers,
            "body": body,
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with open(self.out_path, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
        return "250 OK"


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    # Clients are not asked for certificates.
    context.verify_mode = ssl.CERT_NONE
    context.check_hostname = False
    return context


async def serve(args: argparse.Namespace, context: ssl.SSLContext | None) -> None:
    handler = Recorder(args.out)
    loop = asyncio.get_running_loop()

    def connection() -> SMTP:
        return SMTP(
            handler,
            hostname=SERVER_NAME,
            ident="refroute smtp-sink",
            tls_context=context,
            require_starttls=args.require_starttls,
            enable_SMTPUTF8=True,
            loop=loop,
        )

    server = await loop.create_server(connection, host=args.host, port=args.port)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"smtp-sink ready on {host}:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        # Stop listening at once; sessions still open end with the process.
        server.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description="An SMTP server that records every message as a JSON line and relays none."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--out", required=True, help="file to append one JSON line a message to")
    parser.add_argument("--cert", help="PEM certificate chain to offer STARTTLS with")
    parser.add_argument("--key", help="PEM private key of --cert")
    parser.add_argument(
        "--require-starttls",
        action="store_true",
        help="refuse MAIL before STARTTLS (needs --cert and --key)",
    )
    args = parser.parse_args()
    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together")
    if args.require_starttls and not args.cert:
        parser.error("--require-starttls needs --cert and --key")
    # Fail now, not on the first message, when the out file cannot be written.
    with open(args.out, "a", encoding="utf-8"):
        pass
    try:
        context = tls_context(args.cert, args.key) if args.cert else None
    except OSError as e:  # ssl.SSLError included
        print(f"smtp-sink: cannot use --cert {args.cert} --key {args.key}: {e}", file=sys.stderr)
        return 1
    try:
        asyncio.run(serve(args, context))
    except OSError as e:
        print(f"smtp-sink: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
