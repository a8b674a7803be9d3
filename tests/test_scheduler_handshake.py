"""A fake dask scheduler on loopback: a garbage answer, or none, is one line in bounded time.

The servers are threads of the test process on 127.0.0.1, closed at the end of each test.
Both the experiment's connection (``experiments.runner.connect``) and the calibration's
(``calibration.abc.make_sampler``) go through ``calibration.scheduler.handshake``.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from test_experiment import write_experiment, write_posterior
from test_reliability import assert_one_line

import calibration.scheduler as scheduler
from model import ScenarioError


@contextlib.contextmanager
def fake_server(answer: bytes | None):
    """Serve on 127.0.0.1: send ``answer`` to each connection, or never answer (None)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve():
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                held.append(conn)
                if answer is not None:
                    conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for conn in held:
            conn.close()


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "does not answer as a dask"),
        (None, "no answer from a dask scheduler within 2 s"),
    ],
    ids=["garbage", "silent"],
)
def test_fake_scheduler_gives_one_line_within_the_handshake_time(
    tmp_path, monkeypatch, answer, fragment
):
    monkeypatch.setattr(scheduler, "HANDSHAKE_SECONDS", 2.0)
    file = write_experiment(tmp_path / "e.yaml")
    posterior = write_posterior(tmp_path / "posterior.parquet")
    out = tmp_path / "out"
    with fake_server(answer) as address:
        # The silent case's line names the patched 2 s: the wait is bounded by it.
        argv = ["experiment", file, "--posterior", posterior, "--scheduler", address]
        assert_one_line([*argv, "--out", out], address, fragment)
        db = tmp_path / "c.db"
        argv = ["calibrate", "run", "--db", db, "--population", 2, "--scheduler", address]
        assert_one_line(argv, fragment)
    assert not out.exists() and not db.exists()


class _Future:
    def __init__(self, status, result=None, error=None):
        self.status, self._result, self._error = status, result, error

    def result(self):
        if self._error is not None:
            raise self._error
        return self._result


def test_a_future_lost_with_its_worker_is_waited_for_a_cancelled_one_is_a_lost_scheduler():
    from concurrent.futures import CancelledError

    from experiments.runner import _recomputed

    # A worker killed while its result was gathered: the scheduler computes it again.
    assert _recomputed(_Future("lost", result=7), "tcp://127.0.0.1:1") == 7
    assert _recomputed(_Future("pending", result=8), "tcp://127.0.0.1:1") == 8
    for future in (_Future("cancelled"), _Future("lost", error=CancelledError())):
        with pytest.raises(ScenarioError, match="lost the dask scheduler"):
            _recomputed(future, "tcp://127.0.0.1:1")
