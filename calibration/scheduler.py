"""The first contact with a dask.distributed scheduler, bounded in time as a whole.

dask's ``Client(address, timeout=...)`` bounds only the connection: a server that accepts
and never answers keeps it waiting for ever, and one that answers something other than
dask's protocol (a web server) can make it try to allocate exabytes for a message length
read from the answer. ``handshake`` connects, asks the server who it is (the ``identity``
request of dask's protocol) and reads the reply within one deadline, and checks that a
scheduler answered; only then does ``open_client`` make the ``Client``. Every failure is
one line naming the address; so is a scheduler lost during a run, whose connection
errors dask and tornado would otherwise log as tracebacks first (``quiet_connection_losses``).

In ``calibration/`` because both the ABC-SMC sampler (``calibration.abc``) and the
experiments' runner open a client, and the calibration may not import the experiments.
"""

from __future__ import annotations

import asyncio
import logging
import traceback

from model import ScenarioError

# Connection, dask's own handshake and the identity reply, together.
HANDSHAKE_SECONDS = 10.0
FLAG = "--scheduler"
LOST_SCHEDULER = (
    "lost the dask scheduler during the run (its runs were cancelled): start it again "
    "and rerun (an experiment or a reference table resumes from its stored chunks)"
)


# Where the client's lost connections are logged: its own reconnection attempts, and the
# callbacks of futures whose results were being gathered (tornado's IO loop).
NOISY_LOGGERS = ("distributed.client", "tornado.application")


class ConnectionLossFilter(logging.Filter):
    """Drop a log record whose exception comes from a closed or refused connection.

    The run reports a lost scheduler in one line (``LOST_SCHEDULER``); the same loss
    logged by dask's client and tornado's IO loop were two tracebacks of 36 lines before
    it. Records of any other exception, and records without one, pass.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False (drop) for a record of a lost connection, True for any other."""
        return not (record.exc_info and _from_connection_loss(record.exc_info[1]))


def _from_connection_loss(exc: BaseException | None) -> bool:
    """Return whether ``exc`` is a lost connection, or a cancellation caused by one.

    Only those: a closed stream or comm, a refused or reset connection, the client's
    reconnection cancelled. Any other error, raised while a lost connection was being
    handled or not, still logs.
    """
    from distributed.comm.core import CommClosedError
    from tornado.iostream import StreamClosedError

    lost = (CommClosedError, StreamClosedError, ConnectionError)
    if isinstance(exc, asyncio.CancelledError):
        if _in_reconnection(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return isinstance(exc, lost)


def _in_reconnection(exc: BaseException) -> bool:
    """Return whether ``exc`` went through the client's reconnection to a lost scheduler.

    The client tries to reconnect when its scheduler goes; closing the client cancels the
    attempt mid-connect, and dask logs that cancellation as a traceback of its own, with
    no lost connection in its context (seen once in four runs of the suite).
    """
    return any(
        frame.f_code.co_name == "_reconnect"
        and frame.f_globals.get("__name__") == "distributed.client"
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


def quiet_connection_losses() -> None:
    """Filter connection-loss tracebacks out of the loggers that log them (once per process)."""
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ConnectionLossFilter) for f in logger.filters):
            logger.addFilter(ConnectionLossFilter())


def open_client(address: str):
    """Return a ``dask.distributed.Client`` of the scheduler at ``address``.

    Raises:
        ScenarioError: one line if nothing answers there in time, or not a scheduler.
    """
    from dask.distributed import Client

    handshake(address)
    quiet_connection_losses()
    try:
        return Client(address, timeout=f"{HANDSHAKE_SECONDS}s")
    except (OSError, TimeoutError) as exc:
        raise _cannot_reach(address, str(exc).splitlines()[0] or type(exc).__name__) from None


def handshake(address: str, seconds: float | None = None) -> None:
    """Check within ``seconds`` (default ``HANDSHAKE_SECONDS``) that a scheduler answers.

    Raises:
        ScenarioError: if the address is malformed, the connection fails, nothing
            answers in time, or the answer is not a scheduler's.
    """
    from distributed.comm.addressing import get_address_host_port

    seconds = HANDSHAKE_SECONDS if seconds is None else seconds
    try:
        get_address_host_port(address)
    except ValueError as exc:
        raise ScenarioError(FLAG, address, f"not a scheduler address ({exc})") from None
    try:
        reply = asyncio.run(asyncio.wait_for(_identity(address, seconds / 2), seconds))
    except TimeoutError:
        raise ScenarioError(
            FLAG, address, f"no answer from a dask scheduler within {seconds:g} s"
        ) from None
    except OSError as exc:
        raise _cannot_reach(address, str(exc).splitlines()[0] or type(exc).__name__) from None
    except Exception:  # noqa: BLE001 - a server that is not a scheduler fails in any way
        reply = None
    if not (isinstance(reply, dict) and reply.get("type") == "Scheduler"):
        raise ScenarioError(FLAG, address, "the server there does not answer as a dask scheduler")


async def _identity(address: str, connect_seconds: float):
    """Return the server's answer to dask's ``identity`` request."""
    from distributed.comm import connect

    # Half the deadline: a refused or unroutable address fails as unreachable (OSError)
    # before the whole deadline says that nothing answered.
    comm = await connect(address, timeout=connect_seconds)
    try:
        await comm.write({"op": "identity"})
        return await comm.read()
    finally:
        comm.abort()


def _cannot_reach(address: str, reason: str) -> ScenarioError:
    return ScenarioError(FLAG, address, f"cannot reach the dask scheduler ({reason})")
