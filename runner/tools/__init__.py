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
from runner.tools.environment import tool_environment
from runner.tools.jobs import JobSlots
from runner.tools.process import OutputTail, ProcessResult, kill_group, run_process

__all__ = [
    "TOOL_NAMES",
    "AiderTool",
    "CommandTool",
    "JobSlots",
    "LineCallback",
    "OutputTail",
    "ProcessResult",
    "Tool",
    "ToolRequest",
    "ToolRun",
    "build_prompt",
    "kill_group",
    "make_tool",
    "parse_usage",
    "run_process",
    "tool_environment",
]
