"""Fixtures: a real collector process on 127.0.0.1 (free port) with its own data dir and keys."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ingestion.collector.keys import create_key

ROOT = Path(__file__).resolve().parents[2]


class CollectorProcess:
    def __init__(self, data_dir: Path, *extra: str, nofile: int | None = None) -> None:
        self.data_dir = data_dir
        self.extra = extra
        self.nofile = nofile  # RLIMIT_NOFILE (soft and hard) of the collector process, like `ulimit -n`
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self) -> CollectorProcess:
        env = {**os.environ, "USAGEBILL_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "collector",
                "--port",
                "0",
                "--data-dir",
                str(self.data_dir),
                *self.extra,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=self._limit if self.nofile else None,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"collector exited: {''.join(self.output)}")
            self.output.append(line)
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                return self
        raise RuntimeError("collector did not start within 30 s")

    def _limit(self) -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            out, _ = self.proc.communicate(timeout=30)
            self.output.append(out or "")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def keys(data_dir: Path) -> dict[str, str]:
    return {"acme": create_key(data_dir / "keys", "acme"), "globex": create_key(data_dir / "keys", "globex")}


@pytest.fixture
def collector(data_dir: Path, keys: dict[str, str]) -> Iterator[CollectorProcess]:
    c = CollectorProcess(data_dir).start()
    yield c
    c.stop()


def post(
    url: str, key: str | None, body: object | bytes, content_type: str = "application/json"
) -> requests.Response:
    headers = {"Content-Type": content_type}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(url, data=data, headers=headers, timeout=30)


def landed(data_dir: Path, *, sealed_only: bool = True) -> list[dict]:
    folder = data_dir / "landing" / "usage" / "collector"
    pattern = "*.jsonl" if sealed_only else "*.jsonl*"
    rows = []
    for path in sorted(folder.glob(pattern)):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line]
    return rows


def quarantined(data_dir: Path) -> list[dict]:
    rows = []
    for path in sorted((data_dir / "quarantine").glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line]
    return rows


def event(i: int | str, **over: object) -> dict:
    ev = {
        "event_id": f"evt-{i}",
        "customer_id": "cus_a",
        "meter": "gpu_ms",
        "timestamp": "2023-01-01T13:47:00Z",
        "quantity": "2457",
    }
    ev.update(over)
    return ev
