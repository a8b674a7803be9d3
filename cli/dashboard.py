"""``ngo-abm dashboard``: serve the interactive dashboard (``app.py``) with Solara.

The dashboard is the project's Mesa SolaraViz app (``app.py`` at the top of the repository,
see ``docs/dashboard.md``); this command runs ``solara run app.py`` from this environment,
bound to this machine (127.0.0.1) unless told otherwise, with Solara's version check,
browser opening and usage telemetry turned off. Its start-up message says who can reach
it: this machine only on a loopback address, the network otherwise.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import NoReturn

from cli.arguments import whole_number
from cli.main import UsageError

APP = Path(__file__).resolve().parent.parent / "app.py"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


_port = whole_number(1, 65535)


def browser_url(host: str, port: int) -> str:
    """Return the dashboard's address for a browser; an IPv6 host in brackets (RFC 3986)."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def register(subparsers) -> None:
    """Add the ``dashboard`` subcommand."""
    parser = subparsers.add_parser(
        "dashboard",
        help="serve the interactive dashboard in the browser (Solara)",
        description="Serve the interactive dashboard (app.py) and print its address. "
        "It listens on 127.0.0.1 (this machine only) unless --host says otherwise.",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}, this machine only; "
        "0.0.0.0 would expose the dashboard to the network)",
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.set_defaults(func=cmd_dashboard)


def solara_command(host: str, port: int) -> list[str]:
    """Return the ``solara run`` command line for the dashboard.

    Args:
        host: Address to listen on.
        port: Port to listen on.
    """
    solara = Path(sys.executable).parent / "solara"
    return [
        str(solara),
        "run",
        str(APP),
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-open",
        "--no-check-version",
    ]


def reach(host: str) -> str:
    """Return who can reach a server listening on ``host``, for the start-up message.

    Judged on the addresses the name resolves to as the server resolves it, so that
    ``0`` (every interface), ``127.1`` and ``::ffff:127.0.0.1`` (this machine) are told
    as what they are.
    """
    try:
        found = socket.getaddrinfo(host, None, family=server_family(host), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return f"reachable wherever the name {host} resolves to; not authenticated"
    addresses = [_plain(ipaddress.ip_address(info[4][0].split("%")[0])) for info in found]
    if all(a.is_loopback for a in addresses):
        return "reachable from this machine only"
    if any(a.is_unspecified for a in addresses):
        return "WARNING: reachable from the network on every interface; not authenticated"
    return f"WARNING: reachable from the network at {host}; not authenticated"


def server_family(host: str) -> socket.AddressFamily:
    """Return the address family the server (uvicorn) listens with: IPv6 only for a colon."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _plain(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    """Return an IPv4-mapped IPv6 address as the IPv4 address it maps."""
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def check_address(host: str, port: int) -> None:
    """Raise ``UsageError`` unless a server can listen on ``host``:``port`` now.

    Checked by binding (and closing) a socket as the server will, so that a name that does
    not resolve or a port already taken is one line before the address is announced,
    rather than the server's own error after it.
    """
    try:
        found = socket.getaddrinfo(host, port, family=server_family(host), type=socket.SOCK_STREAM)
        family, kind, proto, _, address = found[0]
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"--host {host}: no such address or name ({reason})") from None
    with socket.socket(family, kind, proto) as probe:
        # As the server does: a port left in TIME_WAIT by an earlier run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise UsageError(
                f"--host/--port: cannot listen on {host}:{port} ({exc.strerror})"
            ) from None


# Solara warns, at the first page served over plain http to an address other than
# "localhost" (127.0.0.1 is one), that its session cookie falls back to SameSite=Lax. That
# is what a dashboard opened in its own tab wants (the fallback matters only inside another
# site's frame), so the dozen lines of the warning are noise here.
COOKIE_WARNING = "ignore:Cookies with samesite=none require https:UserWarning"


def server_environment(environ: dict[str, str]) -> dict[str, str]:
    """Return the Solara server's environment: telemetry off, the cookie warning silenced.

    The user's own ``PYTHONWARNINGS`` filters come after this one, so they take precedence.
    """
    env = {"SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false", **environ}
    own = environ.get("PYTHONWARNINGS")
    env["PYTHONWARNINGS"] = f"{COOKIE_WARNING},{own}" if own else COOKIE_WARNING
    return env


def cmd_dashboard(args: argparse.Namespace) -> NoReturn:
    """Print the dashboard's address, then become the Solara server (until Ctrl-C)."""
    command = solara_command(args.host, args.port)
    if not Path(command[0]).exists():
        raise UsageError(f"{command[0]}: Solara is not installed here (pip install -e .)")
    check_address(args.host, args.port)
    print(f"ngo-abm dashboard: open {browser_url(args.host, args.port)} in a browser", flush=True)
    print(f"  ({reach(args.host)}; change it with --host HOST --port PORT; stop with Ctrl-C)")
    sys.stdout.flush()
    # Replace this process, so that stopping it (Ctrl-C, SIGTERM) stops the server itself.
    os.execve(command[0], command, server_environment(dict(os.environ)))
