"""The pipeline: SELECT, PREP, IMPLEMENT, VERIFY, COMPLETE and the loop that runs them."""

from runner.pipeline.base import (
    CompleteResult,
    ImplementRequest,
    LogSink,
    PrepRequest,
    SelectResult,
    StageContext,
    StageResult,
    Stages,
    StepSink,
    TaskListMemo,
    VerifyRequest,
)
from runner.pipeline.repair import DEFAULT_MAX_ATTEMPTS
from runner.pipeline.run import (
    STAGE_ORDER,
    ResumePoint,
    RunHooks,
    RunOutcome,
    drive,
    failure_details,
    stage_summary,
)
from runner.pipeline.stages import PipelineStages

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "STAGE_ORDER",
    "CompleteResult",
    "ImplementRequest",
    "LogSink",
    "PipelineStages",
    "PrepRequest",
    "ResumePoint",
    "RunHooks",
    "RunOutcome",
    "SelectResult",
    "StageContext",
    "StageResult",
    "Stages",
    "StepSink",
    "TaskListMemo",
    "VerifyRequest",
    "drive",
    "failure_details",
    "stage_summary",
]
