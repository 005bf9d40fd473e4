"""Catalog validation errors: each names the file, the path inside it and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class CatalogIssue:
    file: str  # e.g. plans.yaml
    path: str  # e.g. plans[2].versions[0].charges[1].tiers[3].up_to
    problem: str  # what is wrong and what to write instead

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.problem}"


class CatalogError(ValueError):
    """The catalog does not validate. Nothing may be billed from it."""

    def __init__(self, issues: list[CatalogIssue]) -> None:
        self.issues = sorted(set(issues))
        lines = [str(issue) for issue in self.issues]
        super().__init__(
            f"pricing catalog is invalid ({len(lines)} problem(s)); fix these and run "
            "`usagebill catalog validate` again:\n  " + "\n  ".join(lines)
        )
