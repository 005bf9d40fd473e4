"""Serve the collector: a connection cap, a header timeout and keep-alive limits around aiohttp.

- ``max_connections``: connections beyond it are closed as soon as they are accepted, so idle or
  slow sockets can never use up the process's file descriptors (the landing log, the key store and
  the dedup index need some). Default: the soft RLIMIT_NOFILE minus a reserve of 128.
- ``header_timeout``: a connection that has not sent a complete request head this many seconds
  after it opened is closed (slowloris). Bodies have their own timeout (CollectorConfig.body_timeout)
  and idle keep-alive connections are closed after ``keepalive_timeout``.
- If accept() still hits EMFILE, asyncio pauses accepting for a second and resumes; the landing log
  treats EMFILE as a passing error (that request gets 503 + Retry-After), never as a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from typing import Any

from aiohttp import web

FD_RESERVE = 128


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit where allowed; return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft


def default_max_connections() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 10_000
    return max(16, soft - FD_RESERVE)


class ConnectionGuard:
    """Counts connections of an aiohttp Server; closes those over the cap or too slow to send a head."""

    def __init__(self, max_connections: int, header_timeout: float) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.live: set[Any] = set()
        self.refused = 0
        self.header_timeouts = 0

    def install(self, server: web.Server) -> None:
        made, lost = server.connection_made, server.connection_lost
        loop = asyncio.get_running_loop()

        def connection_made(handler: Any, transport: asyncio.Transport) -> None:
            made(handler, transport)
            if len(self.live) >= self.max_connections:
                self.refused += 1
                # abort on the next loop turn: aiohttp starts the handler's task after this call,
                # and connection_lost must come after that task started
                loop.call_soon(transport.abort)
                return
            self.live.add(handler)
            loop.call_later(self.header_timeout, self._check_head, handler, transport)

        def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
            self.live.discard(handler)
            lost(handler, exc)

        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]

    def _check_head(self, handler: Any, transport: asyncio.Transport) -> None:
        # aiohttp's RequestHandler counts parsed request heads in _request_count (aiohttp 3.x)
        if handler in self.live and getattr(handler, "_request_count", 1) == 0 and not transport.is_closing():
            self.header_timeouts += 1
            transport.abort()

    def metrics(self) -> list[str]:
        return [
            "# HELP usagebill_collector_connections Open client connections (cap: --max-connections).",
            "# TYPE usagebill_collector_connections gauge",
            f"usagebill_collector_connections {len(self.live)}",
            "# TYPE usagebill_collector_connections_refused_total counter",
            f"usagebill_collector_connections_refused_total {self.refused}",
            "# TYPE usagebill_collector_header_timeouts_total counter",
            f"usagebill_collector_header_timeouts_total {self.header_timeouts}",
        ]


async def start_server(
    app: web.Application,
    host: str,
    port: int,
    *,
    max_connections: int,
    header_timeout: float,
    keepalive_timeout: float,
    reuse_port: bool = False,
) -> tuple[web.AppRunner, ConnectionGuard, int]:
    """Start ``app`` on host:port; return the runner (cleanup() to stop), the guard and the port."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=keepalive_timeout)
    await runner.setup()
    guard = ConnectionGuard(max_connections, header_timeout)
    assert runner.server is not None
    guard.install(runner.server)
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_port=reuse_port or None)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, guard, bound
