"""A local HTTP server that speaks a Postmark-style JSON API, for the postmark mailer's tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "test-server-token"


class PostmarkServer:
    """POST /email on 127.0.0.1; recipients named inactive@ are refused (406), busy@ get one 503.

    Requests with an Idempotency-Key seen before get the first reply again and are not recorded
    twice, as an idempotent provider would do.
    """

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.received: list[dict] = []
        self.requests = 0
        self.replies: dict[str, tuple[int, dict]] = {}
        self.busy_seen: set[str] = set()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "PostmarkServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reply(self, headers, payload) -> tuple[int, dict]:
        if headers.get("X-Postmark-Server-Token") != self.token:
            return 401, {"ErrorCode": 10, "Message": "Bad or missing Server API token."}
        missing = [k for k in ("From", "To", "Subject", "MessageStream") if not payload.get(k)]
        if missing or not (payload.get("HtmlBody") or payload.get("TextBody")):
            return 422, {"ErrorCode": 300, "Message": f"Invalid email request: missing {missing or 'body'}"}
        to = payload["To"]
        local = to.rsplit("<", 1)[-1].split("@", 1)[0].lower()
        if local == "inactive":
            return 422, {"ErrorCode": 406, "Message": "You tried to send to recipient(s) that have been marked as inactive."}
        if local == "busy" and to not in self.busy_seen:
            self.busy_seen.add(to)
            return 503, {"ErrorCode": 0, "Message": "Service unavailable"}
        self.received.append({"headers": dict(headers), "payload": payload})
        return 200, {"ErrorCode": 0, "Message": "OK", "To": to, "MessageID": f"pm-{len(self.received)}"}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if self.path != "/email":
                    status, body = 404, {"ErrorCode": 404, "Message": "not found"}
                else:
                    try:
                        payload = json.loads(raw)
                    except ValueError:
                        payload = None
                    with server.lock:
                        server.requests += 1
                        key = self.headers.get("Idempotency-Key")
                        if payload is None:
                            status, body = 422, {"ErrorCode": 402, "Message": "Invalid JSON"}
                        elif key and key in server.replies:
                            status, body = server.replies[key]
                        else:
                            status, body = server.reply(self.headers, payload)
                            if key and status == 200:
                                server.replies[key] = (status, body)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
