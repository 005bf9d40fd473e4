"""Local export targets for `make demo`: a Stripe-compatible server and the marketplace fakes,
unless real credentials are configured. Every choice is returned as a line for the summary, so
the reader always knows whether an export went to a real service, a local server or a dry run."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

LOCAL_STRIPE_KEY = "sk_test_usagebill_local_demo"  # not a secret: only the local fake accepts it


def start_local_export_servers(stack: ExitStack, state_dir: Path) -> list[str]:
    lines: list[str] = []
    state_dir.mkdir(parents=True, exist_ok=True)

    if os.environ.get("STRIPE_API_BASE"):
        lines.append(f"Stripe -> the server at STRIPE_API_BASE={os.environ['STRIPE_API_BASE']}")
    elif os.environ.get("STRIPE_API_KEY"):
        mode = "TEST mode" if os.environ["STRIPE_API_KEY"].startswith("sk_test_") else "LIVE mode"
        lines.append(f"Stripe -> REAL Stripe API in {mode} (key from STRIPE_API_KEY)")
    else:
        from exports.fakes.stripe_server import serve

        state_file = state_dir / "stripe_fake_state.json"
        server, base_url = serve("127.0.0.1", 0, state_file=state_file)
        stack.callback(server.shutdown)
        os.environ["STRIPE_API_BASE"] = base_url
        os.environ["STRIPE_API_KEY"] = LOCAL_STRIPE_KEY
        lines.append(
            f"Stripe -> LOCAL Stripe-compatible server {base_url} (state kept in {state_file}); "
            "set STRIPE_API_KEY=sk_test_... to export to Stripe's test mode"
        )

    if os.environ.get("USAGEBILL_MARKETPLACE_MODE", "") == "live":
        lines.append("AWS / Azure / Google marketplaces -> REAL endpoints (USAGEBILL_MARKETPLACE_MODE=live)")
    else:
        os.environ["USAGEBILL_MARKETPLACE_MODE"] = "fake"
        lines.append(
            "AWS / Azure / Google marketplaces -> LOCAL contract fakes on 127.0.0.1 "
            "(set USAGEBILL_MARKETPLACE_MODE=live and credentials to report for real)"
        )
    return lines


def run_until_interrupted(server: Any, banner: str) -> int:
    """Print `banner` and keep a server started in its own threads running until Ctrl-C; exit code 0."""
    print(banner, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
    return 0
