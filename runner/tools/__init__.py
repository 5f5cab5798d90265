"""Coding-tool adapters (aider, a configured command), their isolation and job slots."""

from __future__ import annotations

from runner.tools.aider import AiderTool, parse_usage
from runner.tools.base import (
    TOOL_NAMES,
    LineCallback,
    Tool,
    ToolRequest,
    ToolRun,
    build_prompt,
    make_tool,
)
from runner.tools.command import CommandTool
from runner.tools.containment import (
    MARKER_VAR,
    Containment,
    JobRecord,
    ProcessJournal,
    become_subreaper,
    contained,
    end_previous_life,
    marked_processes,
)
from runner.tools.environment import tool_environment
from runner.tools.jobs import JobSlots
from runner.tools.process import OutputTail, ProcessResult, kill_group, run_process

__all__ = [
    "MARKER_VAR",
    "TOOL_NAMES",
    "AiderTool",
    "CommandTool",
    "Containment",
    "JobRecord",
    "JobSlots",
    "LineCallback",
    "OutputTail",
    "ProcessJournal",
    "ProcessResult",
    "Tool",
    "ToolRequest",
    "ToolRun",
    "become_subreaper",
    "build_prompt",
    "contained",
    "end_previous_life",
    "kill_group",
    "make_tool",
    "marked_processes",
    "parse_usage",
    "run_process",
    "tool_environment",
]
