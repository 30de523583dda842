"""Typed errors raised by the optimizer (the API maps them to HTTP statuses)."""

from __future__ import annotations

import time


class OptimizerError(Exception):
    """Base class of every error the optimizer raises on purpose."""


class InvalidBatteryError(OptimizerError, ValueError):
    """A battery parameter, or a combination of them, is physically meaningless.

    ``field`` names the offending parameter (the request field name, e.g. ``"min_soc"``),
    so the API can report it as a 422 against that field.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidPricesError(OptimizerError, ValueError):
    """Market-day prices the optimizer cannot schedule (wrong hour count, NaN, ...)."""


class UnknownStrategyError(OptimizerError, ValueError):
    """A strategy name that is not in the registry."""


class InfeasibleProblemError(OptimizerError):
    """The solver reported an infeasible program (never expected: idling is always feasible)."""


class SolverError(OptimizerError):
    """A solver failed (numerical trouble, an unexpected status): a bug, never expected."""


class DeadlineExceededError(OptimizerError):
    """The request's deadline (SPEC §13, an absolute ``time.monotonic()`` timestamp handed to
    the dispatch) passed before the schedule was finished.

    The algorithms never consult a clock to choose what to do: the deadline is only a last
    guard, checked between vectorised steps. The message is safe to show a client.
    """


def check_deadline(deadline_s: float | None, doing: str) -> None:
    """Raise ``DeadlineExceededError`` ("the request's deadline passed while ``doing``") when
    ``deadline_s`` (a ``time.monotonic()`` timestamp) has passed; nothing without one. A last
    guard between steps: it never changes a number."""
    if deadline_s is not None and time.monotonic() > deadline_s:
        raise DeadlineExceededError(f"the request's deadline passed while {doing}")


class PhysicsViolationError(OptimizerError):
    """A strategy produced a schedule that breaks SPEC §2 (a bug, never shown to users)."""
