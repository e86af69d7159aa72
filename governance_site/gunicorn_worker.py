"""gunicorn's threaded worker, answering the requests gunicorn refuses by itself in JSON.

A request gunicorn will not hand to the application (a request line longer than
limit_request_line: 414; more header fields than limit_request_fields, or one longer than
limit_request_field_size: 431; a malformed request: 400) gets an answer written by gunicorn, an
HTML page by default. Every answer of this service is JSON in the one error shape
(`{"detail", "field", "reason"}`), documented for every operation in the OpenAPI schema: this
worker writes those the same way. gunicorn.conf.py names it as the worker class.
"""

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's util.write_error, with a JSON body: the reason code is the status's phrase in
    snake case (`uri_too_long`, `request_header_fields_too_large`, `bad_request`)."""
    body = json.dumps(
        {"detail": f"{reason}: {mesg}" if mesg else reason, "field": None, "reason": reason.lower().replace(" ", "_")}
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin1") + body)


class JsonErrorWorker(ThreadWorker):
    def init_process(self):
        util.write_error = write_json_error  # the one place gunicorn writes its own answers (Worker.handle_error)
        super().init_process()
