"""The mailer contract and the send loop every backend shares (parallel lanes, rate limit, outcomes)."""

from __future__ import annotations

import inspect
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .. import metrics
from ..errors import ConfigError
from ..types import Outcome, Outgoing, SendResult

log = logging.getLogger("digest.mailers")

OnResult = Callable[[Outgoing, SendResult], None]
Lane = Callable[[Outgoing], SendResult]


class BaseMailer:
    """Django-style backend: open(), close(), a context manager, and send_messages().

    A subclass implements send_one() (one message, one SendResult, never raising for a failure
    that concerns only that message). The base class owns the loop: it keeps the order of
    results, turns unexpected exceptions into a FAILED result for that message alone, paces
    sends to rate_limit messages per second, and runs several lanes (connections) in threads
    when lanes() returns more than one. A lane that reports itself stopped gets no more messages,
    and once every lane has stopped the loop returns without reading the rest.

    A ConfigError (bad credentials, say) is the operator's to fix, so it is raised rather than
    recorded as a failed send.
    """

    #: messages per second across all lanes; 0 means no limit
    rate_limit: float = 0.0
    #: True when the last send_messages() returned early because every lane had stopped
    halted: bool = False

    def __init__(self, **options: Any) -> None:
        # A subclass takes its own options and passes on the rest: anything left is a mistake
        # (a misspelt option would otherwise be dropped without a word).
        if options:
            accepted = [name for name, p in inspect.signature(type(self).__init__).parameters.items()
                        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
            raise ConfigError(f"{type(self).__name__} does not take the option {', '.join(sorted(options))}; "
                              f"it takes {', '.join(accepted) or 'none'}")
        self._opened = False

    @classmethod
    def from_settings(cls, settings) -> "BaseMailer":
        """Build the backend from Settings; a backend overrides this to read its own settings."""
        return cls()

    # Connection lifecycle -------------------------------------------------------------------

    def open(self) -> bool:
        """Prepare to send; True when this call opened something (the caller should close it)."""
        if self._opened:
            return False
        self._opened = True
        return True

    def close(self) -> None:
        self._opened = False

    def __enter__(self) -> "BaseMailer":
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # Sending --------------------------------------------------------------------------------

    def send_one(self, message: Outgoing) -> SendResult:
        """Send one message and say what became of it."""
        raise NotImplementedError

    def lanes(self) -> list[Lane]:
        """Independent senders that may run at the same time (one per connection).

        A lane may carry a `stopped` attribute: once it reads true (a circuit breaker tripped,
        say), the loop hands that lane no further message.
        """
        return [self.send_one]

    def send_messages(self, messages: Iterable[Outgoing], on_result: OnResult | None = None) -> list[SendResult]:
        """Send every message; one SendResult per message handed to a lane, in the order given.

        messages may be a generator: it is consumed lazily, only once a lane is free to take the
        next message, so the caller can re-check (an unsubscribe that just arrived, say) as late
        as possible. on_result(message, result) is called in the calling thread as soon as each
        outcome is known, which is where a ledger records progress: after acceptance, never before.

        When every lane has stopped, the loop returns early without reading another message from
        `messages` and sets `halted`; the results (and on_result calls) then cover exactly the
        messages that were read. Whatever the caller had not yet yielded is untouched.
        """
        self.halted = False
        opened = self.open()
        try:
            lanes = self.lanes()
            if len(lanes) == 1:
                return self._send_serial(lanes[0], messages, on_result)
            return self._send_parallel(lanes, messages, on_result)
        finally:
            if opened:
                self.close()

    def _guarded(self, lane: Lane, message: Outgoing) -> SendResult:
        started = time.monotonic()
        try:
            result = lane(message)
        except ConfigError:
            raise
        except OSError as exc:
            # A network fault that escaped the backend: nothing says the message got through.
            result = SendResult(Outcome.DEFERRED, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # one message's surprise must not stop the others
            log.exception("mailer %s failed on message %s", type(self).__name__, message.key)
            result = SendResult(Outcome.FAILED, f"internal error: {type(exc).__name__}: {exc}")
        if not result.accepted:
            # DEBUG: the pipeline writes the one operator-facing line per failure.
            log.debug("send %s to %s: %s %s", message.key, message.recipient, result.status, result.detail)
        metrics.sent(result, time.monotonic() - started)
        return result

    def _pacer(self) -> Callable[[], None]:
        rate = float(self.rate_limit or 0)
        if rate <= 0:
            return lambda: None
        interval = 1.0 / rate
        next_at = [time.monotonic()]

        def wait() -> None:
            now = time.monotonic()
            if next_at[0] > now:
                time.sleep(next_at[0] - now)
            next_at[0] = max(next_at[0], now) + interval

        return wait

    def _halt(self) -> None:
        self.halted = True
        log.warning("mailer %s: every lane has stopped; the remaining messages were not taken", type(self).__name__)

    def _send_serial(self, lane: Lane, messages: Iterable[Outgoing], on_result: OnResult | None) -> list[SendResult]:
        pace = self._pacer()
        results: list[SendResult] = []
        pending = iter(messages)
        while True:
            if lane_stopped(lane):
                self._halt()
                return results
            message = next(pending, _END)
            if message is _END:
                return results
            pace()
            result = self._guarded(lane, message)
            results.append(result)
            if on_result is not None:
                on_result(message, result)

    def _lane_loop(self, lane: Lane, tasks: queue.Queue, done: queue.Queue) -> None:
        """One lane's thread: send what the tasks queue hands it until told to stop or the lane stops."""
        while True:
            item = tasks.get()
            if item is None:
                return
            index, message = item
            try:
                outcome = self._guarded(lane, message)
            except BaseException as exc:  # handed to the calling thread to raise there
                outcome = exc
            # Read in this lane's own thread, right after its send: no other thread touches it.
            stopped = lane_stopped(lane)
            done.put((index, message, outcome, stopped))
            if stopped:
                return

    def _send_parallel(self, lanes: list[Lane], messages: Iterable[Outgoing], on_result: OnResult | None) -> list[SendResult]:
        pace = self._pacer()
        tasks: queue.Queue = queue.Queue()
        done: queue.Queue = queue.Queue()

        # A lane stopped by an earlier call (same run) gets no thread, so it takes no message.
        live_lanes = [lane for lane in lanes if not lane_stopped(lane)]
        threads = [threading.Thread(target=self._lane_loop, args=(lane, tasks, done), daemon=True,
                                    name=f"mailer-lane-{i}")
                   for i, lane in enumerate(live_lanes)]
        for thread in threads:
            thread.start()
        results: dict[int, SendResult] = {}
        error: BaseException | None = None
        in_flight = 0
        live = len(live_lanes)

        def collect(block: bool) -> bool:
            nonlocal in_flight, error, live
            try:
                index, message, outcome, stopped = done.get(block=block)
            except queue.Empty:
                return False
            in_flight -= 1
            if stopped:
                live -= 1
            if isinstance(outcome, BaseException):
                error = error or outcome
                return True
            results[index] = outcome
            if on_result is not None:
                on_result(message, outcome)
            return True

        # Invariant: in_flight <= live, so a task put on the queue always has a live, idle lane
        # to take it (a stopped lane's thread has returned and takes nothing more).
        count = 0
        pending = iter(messages)
        try:
            while True:
                while collect(block=False):
                    pass
                while error is None and live and in_flight >= live:
                    collect(block=True)
                if error is not None:
                    break
                if not live:
                    self._halt()
                    break
                # The next message is read only now that a lane is free to take it at once.
                message = next(pending, _END)
                if message is _END:
                    break
                pace()
                tasks.put((count, message))
                in_flight += 1
                count += 1
        finally:
            # Messages already handed to a lane may be accepted: their outcomes must still reach
            # on_result even when the caller's generator raised.
            while in_flight:
                collect(block=True)
            for _ in threads:
                tasks.put(None)
            for thread in threads:
                thread.join()
        if error is not None:
            raise error
        return [results[i] for i in range(count)]


_END = object()


def lane_stopped(lane: Lane) -> bool:
    """Whether a lane says it takes no more messages (its `stopped` attribute, when it has one)."""
    return bool(getattr(lane, "stopped", False))
