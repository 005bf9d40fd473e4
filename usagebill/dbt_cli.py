"""How the Python side calls the dbt command line: which executable, and where its files go."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def find_dbt() -> str | None:
    """The dbt installed beside this Python (the project's venv), else the one on PATH; None if neither."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else shutil.which("dbt")


def dbt_path_args(project: Path, workdir: Path) -> list[str]:
    """Profiles and project from `project`; target and logs under `workdir` (one per concurrent run)."""
    return [
        "--profiles-dir",
        str(project),
        "--project-dir",
        str(project),
        "--target-path",
        str(workdir / "target"),
        "--log-path",
        str(workdir / "logs"),
    ]
