"""Actors: one supervising actor per customer, the registry, and the event bus."""

from runner.actors.bus import LOG, UPDATE, Event, EventBus, Subscriber, Transport, text_frame
from runner.actors.customer import CustomerActor
from runner.actors.deps import ActorDeps
from runner.actors.messages import (
    GetState,
    ManualStage,
    Pause,
    ReadTaskList,
    Reply,
    Resume,
    RunImplement,
    RunPrep,
    RunSelect,
    RunVerify,
    SkipTask,
    StartRun,
    Stop,
    UnskipTask,
)
from runner.actors.ownership import LeaseKeeper, LeaseStore
from runner.actors.registry import Registry
from runner.actors.state import ACTIVE, RESTING, ExecutionState, Status, allowed_from

__all__ = [
    "ACTIVE",
    "LOG",
    "RESTING",
    "UPDATE",
    "ActorDeps",
    "CustomerActor",
    "Event",
    "EventBus",
    "ExecutionState",
    "GetState",
    "LeaseKeeper",
    "LeaseStore",
    "ManualStage",
    "Pause",
    "ReadTaskList",
    "Registry",
    "Reply",
    "Resume",
    "RunImplement",
    "RunPrep",
    "RunSelect",
    "RunVerify",
    "SkipTask",
    "StartRun",
    "Status",
    "Stop",
    "Subscriber",
    "Transport",
    "UnskipTask",
    "allowed_from",
    "text_frame",
]
