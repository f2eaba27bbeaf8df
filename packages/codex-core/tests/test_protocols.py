"""Protocols and the logger fan-out."""

from __future__ import annotations

import logging

import pytest

from codex_core.fanout import LoggerFanout
from codex_core.protocols import Encoding, Logger, Tokenizer


class ListLogger:
    def __init__(self) -> None:
        self.rows: list[tuple[int, dict]] = []

    def log_params(self, params):
        pass

    def log_metrics(self, metrics, step):
        self.rows.append((step, dict(metrics)))

    def log_artifact(self, path, name=None):
        pass

    def close(self):
        pass


class DiskFullLogger(ListLogger):
    def log_metrics(self, metrics, step):
        if step >= 2:
            raise OSError(28, "No space left on device")
        super().log_metrics(metrics, step)


def test_a_failing_logger_warns_once_is_disabled_and_the_others_go_on(caplog):
    good, full = ListLogger(), DiskFullLogger()
    fanout = LoggerFanout([good, full], names=["good", "full"])

    with pytest.warns(RuntimeWarning, match="logger 'full' failed") as caught, caplog.at_level(logging.WARNING):
        for step in range(1, 5):
            fanout.log_metrics({"loss": 1.0 / step}, step)

    assert [s for s, _ in good.rows] == [1, 2, 3, 4]
    assert [s for s, _ in full.rows] == [1]
    assert len(caught) == 1
    assert list(fanout.disabled) == ["full"] and fanout.active == [good]


def test_protocols_are_runtime_checkable():
    class Chars:
        vocab_size = 3
        special_tokens = {"pad": 0}

        def encode(self, text): return Encoding(ids=[1])
        def encode_batch(self, texts): return []
        def decode(self, ids, skip_special_tokens=False): return ""
        def decode_batch(self, batch, skip_special_tokens=False): return []
        def fingerprint(self): return "f"
        def save(self, directory): return directory

    assert isinstance(Chars(), Tokenizer)
    assert isinstance(ListLogger(), Logger)
    assert not isinstance(object(), Logger)


def test_loggers_of_one_class_are_disabled_one_at_a_time():
    class Flaky(ListLogger):
        def __init__(self, fail: bool) -> None:
            super().__init__()
            self.fail = fail

        def log_metrics(self, metrics, step):
            if self.fail:
                raise RuntimeError("store locked")
            super().log_metrics(metrics, step)

    healthy, broken = Flaky(fail=False), Flaky(fail=True)
    fanout = LoggerFanout([broken, healthy])

    with pytest.warns(RuntimeWarning, match="store locked"):
        fanout.log_metrics({"loss": 1.0}, 1)
    fanout.log_metrics({"loss": 0.5}, 2)

    assert [s for s, _ in healthy.rows] == [1, 2]


class ResumableLogger(ListLogger):
    def resume(self, step):
        self.rows = [(s, m) for s, m in self.rows if s <= step]

    def describe(self):
        return f"list: {len(self.rows)} rows"


def test_fanout_resume_reaches_only_loggers_that_have_it():
    resumable, plain = ResumableLogger(), ListLogger()
    fanout = LoggerFanout([resumable, plain], names=["resumable", "plain"])
    for step in range(1, 6):
        fanout.log_metrics({"loss": 1.0}, step)

    fanout.resume(3)

    assert ([s for s, _ in resumable.rows], len(plain.rows), fanout.disabled) == ([1, 2, 3], 5, {})


def test_fanout_describe_gives_each_loggers_banner_line_or_its_name():
    resumable = ResumableLogger()
    resumable.rows.append((1, {}))
    assert LoggerFanout([ListLogger(), resumable], names=["plain", "r"]).describe() == ["plain", "list: 1 rows"]


def test_fanout_serialises_calls_from_several_threads():
    import threading
    import time

    class SlowLogger(ListLogger):
        inside = 0
        overlapped = False

        def log_metrics(self, metrics, step):
            SlowLogger.inside += 1
            SlowLogger.overlapped |= SlowLogger.inside > 1
            time.sleep(0.001)
            super().log_metrics(metrics, step)
            SlowLogger.inside -= 1

    slow = SlowLogger()
    fanout = LoggerFanout([slow])
    threads = [threading.Thread(target=lambda: [fanout.log_metrics({"x": 1.0}, i) for i in range(20)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (len(slow.rows), SlowLogger.overlapped) == (80, False)
