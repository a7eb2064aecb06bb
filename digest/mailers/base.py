"""The mailer contract and the send loop every backend shares (parallel lanes, rate limit, outcomes)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import ConfigError
from ..types import DEFERRED, FAILED, Outgoing, SendResult

log = logging.getLogger("digest.mailers")

OnResult = Callable[[Outgoing, SendResult], None]
Lane = Callable[[Outgoing], SendResult]


class BaseMailer:
    """Django-style backend: open(), close(), a context manager, and send_messages().

    A subclass implements send_one() (one message, one SendResult, never raising for a failure
    that concerns only that message). The base class owns the loop: it keeps the order of
    results, turns unexpected exceptions into a FAILED result for that message alone, paces
    sends to rate_limit messages per second, and runs several lanes (connections) in threads
    when lanes() returns more than one.

    A ConfigError (bad credentials, say) is the operator's to fix, so it is raised rather than
    recorded as a failed send.
    """

    #: messages per second across all lanes; 0 means no limit
    rate_limit: float = 0.0

    def __init__(self, **options: Any) -> None:
        self.options = options
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
        """Independent senders that may run at the same time (one per connection)."""
        return [self.send_one]

    def send_messages(self, messages: Iterable[Outgoing], on_result: OnResult | None = None) -> list[SendResult]:
        """Send every message; one SendResult per message, in the order given.

        messages may be a generator: it is consumed lazily, just before each message is handed
        to a free lane, so the caller can re-check (an unsubscribe that just arrived, say) as late
        as possible. on_result(message, result) is called in the calling thread as soon as each
        outcome is known, which is where a ledger records progress: after acceptance, never before.
        """
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
        try:
            result = lane(message)
        except ConfigError:
            raise
        except OSError as exc:
            # A network fault that escaped the backend: nothing says the message got through.
            result = SendResult(DEFERRED, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # one message's surprise must not stop the others
            log.exception("mailer %s failed on message %s", type(self).__name__, message.key)
            result = SendResult(FAILED, f"internal error: {type(exc).__name__}: {exc}")
        if not result.accepted:
            # DEBUG: the pipeline writes the one operator-facing line per failure.
            log.debug("send %s to %s: %s %s", message.key, message.recipient, result.status, result.detail)
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

    def _send_serial(self, lane: Lane, messages: Iterable[Outgoing], on_result: OnResult | None) -> list[SendResult]:
        pace = self._pacer()
        results = []
        for message in messages:
            pace()
            result = self._guarded(lane, message)
            results.append(result)
            if on_result is not None:
                on_result(message, result)
        return results

    def _send_parallel(self, lanes: list[Lane], messages: Iterable[Outgoing], on_result: OnResult | None) -> list[SendResult]:
        pace = self._pacer()
        tasks: queue.Queue = queue.Queue()
        done: queue.Queue = queue.Queue()

        def worker(lane: Lane) -> None:
            while True:
                item = tasks.get()
                if item is None:
                    return
                index, message = item
                try:
                    done.put((index, message, self._guarded(lane, message)))
                except BaseException as exc:  # handed to the calling thread to raise there
                    done.put((index, message, exc))

        threads = [threading.Thread(target=worker, args=(lane,), daemon=True, name=f"mailer-lane-{i}") for i, lane in enumerate(lanes)]
        for thread in threads:
            thread.start()
        results: dict[int, SendResult] = {}
        error: BaseException | None = None
        in_flight = 0

        def collect(block: bool) -> bool:
            nonlocal in_flight, error
            try:
                index, message, outcome = done.get(block=block)
            except queue.Empty:
                return False
            in_flight -= 1
            if isinstance(outcome, BaseException):
                error = error or outcome
                return True
            results[index] = outcome
            if on_result is not None:
                on_result(message, outcome)
            return True

        count = 0
        iterator, end = iter(messages), object()
        try:
            while True:
                # A lane is free before the next message is pulled, not after: a stop or an
                # unsubscribe that comes while every lane is busy then holds that message back.
                while in_flight >= len(lanes):
                    collect(block=True)
                while collect(block=False):
                    pass
                if error is not None:
                    break
                message = next(iterator, end)
                if message is end:
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
