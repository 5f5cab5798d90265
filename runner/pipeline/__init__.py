"""The pipeline: SELECT, PREP, IMPLEMENT, VERIFY, COMPLETE and the loop that runs them."""

from runner.pipeline.autopilot import (
    STAGE_ORDER,
    ResumePoint,
    RunHooks,
    RunOutcome,
    drive,
    failure_details,
    stage_summary,
)
from runner.pipeline.base import (
    CompleteResult,
    ImplementArtifacts,
    ImplementRequest,
    ImplementResult,
    LogSink,
    PrepArtifacts,
    PrepRequest,
    PrepResult,
    SelectResult,
    StageContext,
    Stages,
    StepSink,
    TaskListMemo,
    VerifyRequest,
    VerifyResult,
)
from runner.pipeline.repair import DEFAULT_MAX_ATTEMPTS
from runner.pipeline.stages import PipelineStages

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "STAGE_ORDER",
    "CompleteResult",
    "ImplementArtifacts",
    "ImplementRequest",
    "ImplementResult",
    "LogSink",
    "PipelineStages",
    "PrepArtifacts",
    "PrepRequest",
    "PrepResult",
    "ResumePoint",
    "RunHooks",
    "RunOutcome",
    "SelectResult",
    "StageContext",
    "Stages",
    "StepSink",
    "TaskListMemo",
    "VerifyRequest",
    "VerifyResult",
    "drive",
    "failure_details",
    "stage_summary",
]
