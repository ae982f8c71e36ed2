"""What every request passes before a route: the API key, the body's size, and its timing.

A plain ASGI middleware (no per-request objects beyond the scope): with keys configured, every
path but ``/health`` needs ``Authorization: Bearer KEY`` (else 401); a body larger than the limit
is refused with 413 before it is parsed (by its ``Content-Length``, or while it streams in); each
request's duration goes to the latency histogram under its route's path; an unexpected error is
logged and answered with a JSON 500 without closing the client's connection.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from core.access import api_key_matches, parse_api_key_hashes, secret_api_keys
from core.config import Settings

OPEN_PATHS = frozenset({"/health"})
log = logging.getLogger(__name__)


def configured_keys(settings: Settings) -> list[bytes]:
    """The digests of the API keys: ``SIFT_API_KEYS``, else ``api_keys`` of the secrets file; [] means open."""
    if settings.api_keys:
        return parse_api_key_hashes(settings.api_keys, setting="SIFT_API_KEYS")
    found = secret_api_keys()
    return parse_api_key_hashes(found[0], setting=found[1]) if found else []


async def _send_error(send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


def _as_json(scope: dict[str, Any]) -> None:
    """The body is read as JSON whatever it is labelled: ``curl -d`` labels it a form, which no route takes."""
    headers = [(n, v) for n, v in scope["headers"] if n != b"content-type"]
    scope["headers"] = [*headers, (b"content-type", b"application/json")]


class Guard:
    def __init__(self, app: Any, *, keys: list[bytes], max_bytes: int, metrics: Any):
        self.app, self.keys, self.max_bytes, self.metrics = app, keys, max_bytes, metrics

    def _authorised(self, scope: dict[str, Any]) -> bool:
        if not self.keys or scope["path"] in OPEN_PATHS:
            return True
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, key = value.decode("latin-1").partition(" ")
                return scheme.lower() == "bearer" and api_key_matches(key.strip(), self.keys)
        return False

    @staticmethod
    def _sized(scope: dict[str, Any]) -> bool:
        return any(name == b"content-length" for name, _ in scope["headers"])

    def _too_large(self, scope: dict[str, Any]) -> bool:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return not value.isdigit() or int(value) > self.max_bytes
        return False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self._guarded(scope, receive, send)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.metrics.latency.labels(endpoint, scope["method"]).observe(time.perf_counter() - started)

    async def _guarded(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not self._authorised(scope):
            await _send_error(
                send,
                401,
                "This service needs an API key: send the header 'Authorization: Bearer KEY' "
                "(python -m core api-key makes one; its hash goes in SIFT_API_KEYS).",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        limit = f"The body is larger than the {self.max_bytes:,} bytes one request may send: split the rows into "
        limit += "several requests, or score the file with python -m core predict."
        if self._too_large(scope):
            await _send_error(send, 413, limit)
            return
        if scope["method"] == "POST":
            _as_json(scope)
        if scope["method"] in ("POST", "PUT", "PATCH") and not self._sized(scope):
            # a streamed body (no Content-Length) is read here, up to the limit, then handed on
            body = bytearray()
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return
                body += message.get("body", b"")
                if len(body) > self.max_bytes:
                    await _send_error(send, 413, limit)
                    return
                if not message.get("more_body", False):
                    break
            sent = False

            async def replay() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    return await receive()
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}

            await self._answered(scope, replay, send)
            return
        await self._answered(scope, receive, send)

    async def _answered(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The route's answer; an unexpected error becomes a JSON 500 here, so the connection stays open."""
        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:  # logged with its traceback; the client gets one sentence
            log.exception("%s %s failed", scope["method"], scope["path"])
            if not started:
                await _send_error(send, 500, "The service failed to answer this request; its log has the details.")
