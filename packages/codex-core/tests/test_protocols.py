"""Protocols and the logger fan-out."""

from __future__ import annotations

import logging

import pytest

from codex_core.protocols import Encoding, Logger, LoggerFanout, Tokenizer


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
