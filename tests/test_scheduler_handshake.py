"""A fake dask scheduler on loopback: a garbage answer, or none, is one line in bounded time.

The servers are threads of the test process on 127.0.0.1, closed at the end of each test.
Both the experiment's connection (``experiments.runner.connect``) and the calibration's
(``calibration.abc.make_sampler``) go through ``experiments.scheduler.handshake``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
from test_experiment import write_experiment, write_posterior
from test_reliability import assert_one_line

import experiments.scheduler as scheduler


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
def test_fake_scheduler_gives_one_line_in_bounded_time(tmp_path, monkeypatch, answer, fragment):
    monkeypatch.setattr(scheduler, "HANDSHAKE_SECONDS", 2.0)
    file = write_experiment(tmp_path / "e.yaml")
    posterior = write_posterior(tmp_path / "posterior.parquet")
    out = tmp_path / "out"
    with fake_server(answer) as address:
        started = time.perf_counter()
        argv = ["experiment", file, "--posterior", posterior, "--scheduler", address]
        assert_one_line([*argv, "--out", out], address, fragment)
        assert time.perf_counter() - started < 10
        db = tmp_path / "c.db"
        argv = ["calibrate", "--db", db, "--population", 2, "--scheduler", address]
        assert_one_line(argv, fragment)
    assert not out.exists() and not db.exists()
