"""VERIFY: quality gates (coverage, types, lint, tests, docs) for Python and Node repositories."""

from __future__ import annotations

from runner.verify.criteria import (
    SUPPORTED_CRITERIA,
    Criterion,
    CriterionResult,
    format_percent,
    parse_criteria,
)
from runner.verify.detect import (
    Toolchain,
    VerifyConfig,
    child_environment,
    detect_toolchain,
    load_verify_config,
    read_config,
)
from runner.verify.runner import VerifyOutcome, verify

__all__ = [
    "SUPPORTED_CRITERIA",
    "Criterion",
    "CriterionResult",
    "Toolchain",
    "VerifyConfig",
    "VerifyOutcome",
    "child_environment",
    "detect_toolchain",
    "format_percent",
    "load_verify_config",
    "parse_criteria",
    "read_config",
    "verify",
]
