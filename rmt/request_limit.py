"""Refuse oversized request bodies before they are read (a pure ASGI middleware, no web framework).

A 50 MB paste must cost the server nothing: the declared ``Content-Length`` is checked before a
single byte of the body is read, and a body sent without one is counted as it streams in and cut
off at the limit. The refusal is a 413 with a sentence a person can act on.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


def body_limit_bytes(max_paste_chars: int) -> int:
    """Room for a paste of the configured size, JSON-escaped (about 2x worst case for text), plus the form."""
    return 2 * max_paste_chars + 2**20


class BodySizeLimit:
    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def message(self, size: int | None) -> bytes:
        got = f"{size / 1e6:,.1f} MB" if size is not None else "more than that"
        text = (
            f"Request too large: {got}; this server takes at most {self.max_bytes / 1e6:,.1f} MB per request "
            "(set by RMT_MAX_PASTE_CHARS). Paste less text, or use a built-in book as noise."
        )
        return json.dumps({"error": text, "detail": text}).encode()

    async def refuse(self, send: Send, size: int | None) -> None:
        body = self.message(size)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self.refuse(send, int(declared))
            return
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # no Content-Length: stop reading, as if the client left
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, send)
