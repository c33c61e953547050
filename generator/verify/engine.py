"""Runs the steps of a verify run in order, and tears down what they created.

Each step gets a deadline (its own timeout, capped by the run's); a step waits only through
`Run.wait`, which polls with the engine's clock and sleep, so tests inject time instead of
sleeping. A step returns its evidence (ARNs, statuses), raises `Skipped` with a reason, or fails
with a one-line reason. After the first failure, a timeout or Ctrl-C no further step runs, and
everything registered with `Run.created` is deleted newest first (unless --keep).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from generator.verify.plan import StepSpec

HELD, SKIPPED, FAILED, TIMEOUT, INTERRUPTED, NOT_RUN = "held", "skipped", "failed", "timeout", "interrupted", "not run"
DELETED, LEFT, KEPT = "deleted", "left", "kept"
POLL_SECONDS = 15.0
# Deleting the project's endpoint stacks and the product stack takes minutes each.
TEARDOWN_TIMEOUT_SECONDS = 45 * 60


class StepFailed(Exception):
    """A step did not hold: the message is the one-line reason."""


class StepTimeout(StepFailed):
    pass


class Skipped(Exception):
    """The step could not be checked here, and says why."""


@dataclass(frozen=True)
class Result:
    step: str
    result: str
    seconds: float
    evidence: str


@dataclass(frozen=True)
class Created:
    what: str
    delete: Callable[[Run], str]  # returns what went with it ("" for nothing worth saying)


@dataclass
class Run:
    """What the steps share: the run id, values found so far, what was created, and time."""

    run_id: str
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    values: dict[str, Any] = field(default_factory=dict)
    created: list[Created] = field(default_factory=list)
    deadline: float = float("inf")

    def create(self, what: str, delete: Callable[[Run], str]) -> None:
        """Record a resource as soon as AWS accepted its creation, so teardown finds it."""
        self.created.append(Created(what, delete))

    def wait(self, what: str, probe: Callable[[], Any], interval: float = POLL_SECONDS) -> Any:
        """Poll `probe` until it returns something other than None, or the deadline passes."""
        started = self.clock()
        while True:
            found = probe()
            if found is not None:
                return found
            if self.clock() + interval > self.deadline:
                raise StepTimeout(f"timed out after {self.clock() - started:.0f} s waiting for {what}")
            self.sleep(interval)


Action = Callable[[Run], str]


@dataclass
class Engine:
    run: Run
    echo: Callable[[str], None]
    timeout_seconds: float = float("inf")
    results: list[Result] = field(default_factory=list)

    def _one(self, spec: StepSpec, action: Action, number: int, total: int, run_end: float) -> str:
        self.echo(f"[{number}/{total}] {spec.name}: {spec.checks} ...")
        started = self.run.clock()
        self.run.deadline = min(started + spec.timeout_minutes * 60, run_end)
        try:
            result, evidence = HELD, action(self.run)
        except Skipped as why:
            result, evidence = (SKIPPED, f"skipped: {why}") if spec.optional else (FAILED, f"not checked: {why}")
        except StepTimeout as error:
            result, evidence = TIMEOUT, str(error)
        except KeyboardInterrupt:
            result, evidence = INTERRUPTED, "interrupted (Ctrl-C)"
        except Exception as error:  # noqa: BLE001 - any failure must still reach the teardown
            result, evidence = FAILED, _one_line(error)
        seconds = self.run.clock() - started
        self.results.append(Result(spec.name, result, round(seconds, 1), evidence))
        self.echo(f"[{number}/{total}] {spec.name}: {result} ({seconds:.0f} s) {evidence}")
        return result

    def execute(self, steps: list[tuple[StepSpec, Action]], keep: bool) -> bool:
        """Run every step until one does not hold, then tear down; True when every step held."""
        run_end = self.run.clock() + self.timeout_seconds
        stopped = False
        try:
            for number, (spec, action) in enumerate(steps, 1):
                if stopped:
                    self.results.append(Result(spec.name, NOT_RUN, 0.0, ""))
                    continue
                stopped = self._one(spec, action, number, len(steps), run_end) not in (HELD, SKIPPED)
        except KeyboardInterrupt:  # between steps (while printing): still tear down
            stopped = True
            self.results.append(Result("(between steps)", INTERRUPTED, 0.0, "interrupted (Ctrl-C)"))
        torn_down = self.teardown(keep)
        return not stopped and torn_down

    def teardown(self, keep: bool) -> bool:
        """Delete what the run created, newest first; on a failed delete go on with the rest."""
        if keep:
            for item in self.run.created:
                self.results.append(Result(f"teardown: {item.what}", KEPT, 0.0, "--keep"))
            return True
        clean = True
        for item in reversed(self.run.created):
            started = self.run.clock()
            self.run.deadline = started + TEARDOWN_TIMEOUT_SECONDS
            try:
                result, evidence = DELETED, item.delete(self.run)
            except KeyboardInterrupt:
                result, evidence = LEFT, "interrupted (Ctrl-C)"
            except Exception as error:  # noqa: BLE001 - the other resources must still be deleted
                result, evidence = LEFT, _one_line(error)
            clean = clean and result == DELETED
            seconds = self.run.clock() - started
            self.results.append(Result(f"teardown: {item.what}", result, round(seconds, 1), evidence))
            self.echo(f"teardown: {item.what}: {result} ({seconds:.0f} s){f' {evidence}' if evidence else ''}")
        return clean


def _one_line(error: BaseException) -> str:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        text = f"{error.operation_name}: {detail.get('Code', 'error')}: {detail.get('Message') or 'no message'}"
    else:
        text = str(error) or error.__class__.__name__
    return " ".join(text.split())


def first_problem(results: list[Result]) -> Result | None:
    """The step that stopped the run, else the first resource teardown left behind."""
    for row in results:
        if row.result in (FAILED, TIMEOUT, INTERRUPTED, LEFT):
            return row
    return None
