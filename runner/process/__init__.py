"""Child processes, contained: run one in its own group with a marker, end its whole tree.

A leaf of the package: git, VERIFY, the coding tools and the health probe all run their
processes through :func:`run_process`; :mod:`runner.process.containment` tags, journals and
ends them (also what a crashed earlier life of the service left).
"""

from __future__ import annotations

from runner.process.containment import (
    MARKER_VAR,
    Containment,
    JobRecord,
    ProcessJournal,
    become_subreaper,
    contained,
    end_previous_life,
    marked_processes,
    start_time,
)
from runner.process.run import LineCallback, OutputTail, ProcessResult, kill_group, run_process

__all__ = [
    "MARKER_VAR",
    "Containment",
    "JobRecord",
    "LineCallback",
    "OutputTail",
    "ProcessJournal",
    "ProcessResult",
    "become_subreaper",
    "contained",
    "end_previous_life",
    "kill_group",
    "marked_processes",
    "run_process",
    "start_time",
]
