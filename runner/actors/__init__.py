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
from runner.actors.ownership import LeaseKeeper, LeaseStore, end_dead_lives
from runner.actors.registry import Cluster, Registry
from runner.actors.relay import Relay
from runner.actors.state import ACTIVE, RESTING, ExecutionState, Status, allowed_from

__all__ = [
    "ACTIVE",
    "LOG",
    "RESTING",
    "UPDATE",
    "ActorDeps",
    "Cluster",
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
    "Relay",
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
    "end_dead_lives",
    "text_frame",
]
