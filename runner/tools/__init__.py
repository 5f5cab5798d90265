"""Coding-tool adapters (aider, a configured command), their isolation and job slots.

The processes themselves run through :mod:`runner.process`."""

from __future__ import annotations

from runner.tools.aider import AiderTool, parse_usage
from runner.tools.base import (
    TOOL_NAMES,
    Tool,
    ToolRequest,
    ToolRun,
    build_prompt,
    make_tool,
)
from runner.tools.command import CommandTool
from runner.tools.environment import tool_environment
from runner.tools.jobs import JobSlots

__all__ = [
    "TOOL_NAMES",
    "AiderTool",
    "CommandTool",
    "JobSlots",
    "Tool",
    "ToolRequest",
    "ToolRun",
    "build_prompt",
    "make_tool",
    "parse_usage",
    "tool_environment",
]
