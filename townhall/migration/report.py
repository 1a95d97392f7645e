"""What an import did: the counts, what was left out and why, and the problems met. Kept as
JSON on the ``ImportRun`` (``as_dict``), printed by the command (``lines``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from townhall.migration.records import Problem

MAX_PROBLEMS = 100
MAX_BROKEN_IDS = 50


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do)."""

    source: str = ""
    dry_run: bool = False
    threads_created: int = 0
    # Already imported (same source id), or a Townhall thread at that URL, reused.
    threads_existing: int = 0
    comments_created: int = 0
    comments_existing: int = 0  # already imported: the same source id (or alias)
    commenters_created: int = 0
    votes_created: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason → items left out
    # Replies whose parent is not in the file (or was excluded): attached at the top level.
    broken_parents: int = 0
    broken_parent_ids: list[str] = field(default_factory=list)  # the first MAX_BROKEN_IDS
    problems: int = 0
    problem_list: list[Problem] = field(default_factory=list)  # the first MAX_PROBLEMS

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    def problem(self, where: str, message: str) -> None:
        self.problems += 1
        if len(self.problem_list) < MAX_PROBLEMS:
            self.problem_list.append(Problem(where, message))

    def broken(self, source_id: str) -> None:
        self.broken_parents += 1
        if len(self.broken_parent_ids) < MAX_BROKEN_IDS:
            self.broken_parent_ids.append(source_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "threads_created": self.threads_created,
            "threads_existing": self.threads_existing,
            "comments_created": self.comments_created,
            "comments_existing": self.comments_existing,
            "commenters_created": self.commenters_created,
            "votes_created": self.votes_created,
            "skipped": dict(sorted(self.skipped.items())),
            "broken_parents": self.broken_parents,
            "broken_parent_ids": list(self.broken_parent_ids),
            "problems": self.problems,
            "problem_list": [{"where": p.where, "message": p.message} for p in self.problem_list],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        """A report as ``as_dict`` gave it (an ``ImportRun``'s)."""
        report = cls(**{k: v for k, v in data.items() if k in _SCALARS})
        report.problem_list = [
            Problem(p["where"], p["message"]) for p in data.get("problem_list", [])
        ]
        return report

    def lines(self) -> list[str]:
        """The summary the command prints and the staff page shows."""
        lines = [
            ("Dry run, nothing written: " if self.dry_run else "Imported: ")
            + f"{self.comments_created} comments in {self.threads_created} new threads.",
            f"Threads: {self.threads_created} created, {self.threads_existing} existing "
            "(imported before, or already on Townhall at that URL).",
            f"Comments: {self.comments_created} created, {self.comments_existing} imported before.",
            f"Commenters: {self.commenters_created} created. Votes: {self.votes_created} created.",
        ]
        if self.skipped:
            left_out = ", ".join(f"{count} {why}" for why, count in sorted(self.skipped.items()))
            lines.append(f"Left out: {left_out}.")
        if self.broken_parents:
            shown = ", ".join(self.broken_parent_ids)
            more = " …" if self.broken_parents > len(self.broken_parent_ids) else ""
            lines.append(
                f"Replies to a comment not in the file, attached at the top level: "
                f"{self.broken_parents} ({shown}{more})."
            )
        if self.problems:
            lines.append(f"Problems: {self.problems}.")
            lines += [f"  {p.where}: {p.message}" for p in self.problem_list]
            if self.problems > len(self.problem_list):
                lines.append(f"  … and {self.problems - len(self.problem_list)} more.")
        return lines


_SCALARS = frozenset(
    (
        *("source", "dry_run", "threads_created", "threads_existing", "comments_created"),
        *("comments_existing", "commenters_created", "votes_created", "skipped"),
        *("broken_parents", "broken_parent_ids", "problems"),
    )
)
