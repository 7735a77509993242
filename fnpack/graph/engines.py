"""The two engines that run a compiled plan: ``sync`` (one chain) and ``async`` (a DAG).

Both raise :class:`StepError` for a failing step without a recovery step, and set the same error
shape on the event for recovery steps: ``event.error`` (a string) and ``event.origin_state`` (the
step name).

The async engine runs every step it can inline, in the caller's thread; a step that returns an
awaitable hands the rest of that branch to a private event loop. Steps never run in two threads at
once: while the loop holds unfinished work, new events go to the loop too.
"""

from __future__ import annotations

import copy
import threading
from types import CoroutineType

from .errors import StepError, err_to_str
from .event import Event
from .loop import LoopThread
from .plan import DROP, FlowPlan, Node, all_nodes, copy_for_branch


def _fail(node: Node, exc: BaseException) -> StepError:
    if isinstance(exc, StepError):
        return exc
    error = StepError(node.name, exc)
    error.__cause__ = exc
    return error


def _enter_recovery(node: Node, event, exc: BaseException, context) -> Node | None:
    """Set the error shape on the event and return the recovery node (None when there is none)."""
    recovery = node.recovery
    if recovery is None:
        return None  # the error leaves the graph; whoever receives it reports it
    step = exc.step if isinstance(exc, StepError) else node.name
    message = err_to_str(exc.cause if isinstance(exc, StepError) else exc)
    if context is not None:
        context.push_error(event, message, source=step)
    event.error = message
    event.origin_state = step
    return recovery


class RouterRoot:
    """A router topology: the whole graph is one router node."""

    def __init__(self, node: Node, loop: LoopThread, context):
        self.node = node
        self._loop = loop
        self._context = context

    def nodes(self) -> list[Node]:
        return all_nodes([self.node])

    def run(self, event):
        try:
            result = self.node.call(event)
            if result.__class__ is CoroutineType:
                result = self._loop.run(result)
        except Exception as exc:
            raise _fail(self.node, exc) from exc
        return event if result is DROP else result

    def wait_for_completion(self, timeout=None) -> None:
        return None


class SyncFlow:
    """Runs a single chain of nodes in the caller's thread."""

    def __init__(self, plan: FlowPlan, loop: LoopThread, context):
        self.start = plan.starts[0]
        self._plan = plan
        self._loop = loop
        self._context = context

    def nodes(self) -> list[Node]:
        return all_nodes(self._plan.starts)

    def run(self, event):
        node = self.start
        while node is not None:
            try:
                result = node.call(event)
                if result.__class__ is CoroutineType:
                    result = self._loop.run(result)
            except Exception as exc:
                recovery = _enter_recovery(node, event, exc, self._context)
                if recovery is None:
                    raise _fail(node, exc) from exc
                node = recovery
                continue
            if result is DROP:
                event.terminated = True
                return event
            event = result
            if event.terminated:
                return event
            node = node.next1
        return event

    def wait_for_completion(self, timeout=None) -> None:
        return None


MAX_DELAYED_ERRORS = 100


class _Run:
    """The state of one event in the async engine."""

    __slots__ = ("event", "result", "error", "pending", "future")

    def __init__(self, event):
        self.event = event
        self.result = None
        self.error: StepError | None = None
        self.pending = 0  # branches still running on the loop
        self.future = None  # a concurrent.futures.Future once work goes to the loop


class AsyncFlow:
    """Runs a DAG: fan-out, fan-in, recovery steps, one responder, bounded events in flight."""

    def __init__(self, plan: FlowPlan, loop: LoopThread, context, max_in_flight: int = 256):
        self.starts = plan.starts
        self.has_responder = plan.has_responder
        self._plan = plan
        self._loop = loop
        self._context = context
        self.max_in_flight = max(1, int(max_in_flight))
        self._lock = threading.Lock()  # held while steps run inline
        self._cv = threading.Condition()  # guards _busy
        self._busy = 0  # events with unfinished work on the loop
        self.delayed_errors: list[StepError] = []  # the first MAX_DELAYED_ERRORS, until reported
        self.delayed_error_count = 0

    # --- public -------------------------------------------------------------------------------
    def run(self, event):
        run = _Run(event)
        if self._busy >= self.max_in_flight:
            with self._cv:
                while self._busy >= self.max_in_flight:
                    self._cv.wait()
        with self._lock:
            if self._busy == 0:
                handoffs: list = []
                starts = self.starts
                for start in starts[:-1]:
                    self._walk(start, copy_for_branch(event), run, handoffs)
                self._walk(starts[-1], event, run, handoffs)
                if handoffs:
                    self._go_async(run, handoffs)
            else:
                starts = self.starts
                branches = [(start, copy_for_branch(event), None) for start in starts[:-1]]
                self._go_async(run, [*branches, (starts[-1], event, None)])
        return self._outcome(run)

    def wait_for_completion(self, timeout: float | None = None) -> None:
        """Wait until every event in flight has finished; re-raise errors nobody received."""
        with self._cv:
            if not self._cv.wait_for(lambda: self._busy == 0, timeout):
                raise TimeoutError(f"{self._busy} events still in flight after {timeout}s")
        if self.delayed_errors:
            errors, count = self.delayed_errors, self.delayed_error_count
            self.delayed_errors, self.delayed_error_count = [], 0
            first = errors[0]
            more = f" (and {count - 1} more)" if count > 1 else ""
            raise RuntimeError(f"an event failed after its response was sent: {first}{more}") from first

    def nodes(self) -> list[Node]:
        return all_nodes(self._plan.starts)

    @property
    def in_flight(self) -> int:
        return self._busy

    # --- outcome --------------------------------------------------------------------------------
    def _outcome(self, run: _Run):
        if run.future is not None and (self.has_responder and run.result is None and run.error is None):
            run.future.result()
        if run.error is not None and run.result is None:
            raise run.error
        if run.result is not None:
            return run.result
        event = run.event
        ack = event.copy() if isinstance(event, Event) else copy.copy(event)
        ack.body = {"id": event.id}
        ack.terminated = False
        return ack

    def _respond(self, run: _Run, event, keep_copy: bool) -> None:
        if run.result is not None:
            return
        if keep_copy:
            snapshot = event.copy()
            snapshot.body = copy.deepcopy(event.body)
            event = snapshot
        run.result = event
        if run.future is not None and not run.future.done():
            run.future.set_result(None)

    def _record_error(self, run: _Run, error: StepError, on_loop: bool = False) -> None:
        """The first error of an event fails its request while the caller can still receive it."""
        receivable = not on_loop or self.has_responder
        if receivable and run.error is None and run.result is None:
            run.error = error
            if run.future is not None and not run.future.done():
                run.future.set_result(None)
            return
        self.delayed_error_count += 1
        if len(self.delayed_errors) < MAX_DELAYED_ERRORS:  # bounded: a long-running worker never grows
            self.delayed_errors.append(error)
        self._context.logger.error(f"event {run.event.id} failed after its response was sent: {error}")
        self._context.push_error(run.event, err_to_str(error.cause), source=error.step)

    # --- inline walk (caller's thread, lock held) ---------------------------------------------
    def _walk(self, node: Node, event, run: _Run, handoffs: list) -> None:
        while True:
            try:
                result = node.call(event)
            except Exception as exc:
                recovery = _enter_recovery(node, event, exc, self._context)
                if recovery is None:
                    self._record_error(run, _fail(node, exc))
                    return
                node = recovery
                continue
            if result.__class__ is CoroutineType:
                handoffs.append((node, event, result))
                return
            if result is DROP:
                return
            event = result
            nexts = node.next
            if node.responder or event.terminated:
                self._respond(run, event, keep_copy=bool(nexts) and not event.terminated)
                if event.terminated:
                    return
            if not nexts:
                return
            for branch in nexts[:-1]:
                self._walk(branch, copy_for_branch(event), run, handoffs)
            node = nexts[-1]

    # --- loop walk ----------------------------------------------------------------------------
    def _go_async(self, run: _Run, handoffs: list) -> None:
        from concurrent.futures import Future

        run.future = Future()
        run.pending = len(handoffs)
        with self._cv:
            self._busy += 1
        loop = self._loop.loop
        for node, event, started in handoffs:
            loop.call_soon_threadsafe(self._spawn, node, event, run, started)

    def _spawn(self, node: Node, event, run: _Run, started) -> None:
        self._loop.loop.create_task(self._branch(node, event, run, started))

    async def _branch(self, node: Node, event, run: _Run, started) -> None:
        try:
            await self._walk_async(node, event, run, started)
        except BaseException as exc:  # a bug in the engine itself: never leave the caller hanging
            self._record_error(run, _fail(node, exc), on_loop=True)
        finally:
            run.pending -= 1
            if run.pending == 0:
                if run.future is not None and not run.future.done():
                    run.future.set_result(None)
                with self._cv:
                    self._busy -= 1
                    self._cv.notify_all()

    async def _walk_async(self, node: Node, event, run: _Run, started) -> None:
        while True:
            try:
                if started is not None:
                    result, started = await started, None
                else:
                    result = node.call(event)
                    if result.__class__ is CoroutineType:
                        result = await result
            except Exception as exc:
                recovery = _enter_recovery(node, event, exc, self._context)
                if recovery is None:
                    self._record_error(run, _fail(node, exc), on_loop=True)
                    return
                node = recovery
                continue
            if result is DROP:
                return
            event = result
            nexts = node.next
            if node.responder or event.terminated:
                self._respond(run, event, keep_copy=bool(nexts) and not event.terminated)
                if event.terminated:
                    return
            if not nexts:
                return
            loop = self._loop.loop
            for branch in nexts[:-1]:
                run.pending += 1
                loop.create_task(self._branch(branch, copy_for_branch(event), run, None))
            node = nexts[-1]
