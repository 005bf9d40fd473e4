"""Real servers on 127.0.0.1 for the measurement sources: PostgreSQL 15 and moto (S3, EC2, CloudWatch)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server; yields its DSN."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install -y postgresql"
        )
    # pytest's tmp dirs are 0700 root-only; the postgres user needs its own traversable folder
    base = Path(tempfile.mkdtemp(prefix="usagebill-pg-"))
    base.chmod(0o755)
    pgdata, sockdir = base / "data", base / "sock"
    pgdata.mkdir()
    sockdir.mkdir()
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:  # initdb refuses root: run the server as the postgres user
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(pgdata, "postgres", "postgres")
        shutil.chown(sockdir, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(pgdata),
            "-l",
            str(pgdata / "log"),
            "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -k {sockdir} -c fsync=off",
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """moto's HTTP server (S3, EC2, CloudWatch) on a free 127.0.0.1 port."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_url: str) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    return moto_url
