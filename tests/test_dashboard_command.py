"""The environment ``ngo-abm dashboard`` gives the Solara server (cli/dashboard.py)."""

import subprocess
import sys

from cli.dashboard import COOKIE_WARNING, server_environment

# The start of the warning Solara's server gives at a plain-http page load (its full text
# runs to a dozen lines).
SOLARA_WARNING = "Cookies with samesite=none require https, but according to the asgi framework"


def _warns(env: dict[str, str]) -> str:
    """Return what a Python process with ``env`` writes when warned as Solara warns."""
    code = f"import warnings; warnings.warn({SOLARA_WARNING!r}, UserWarning)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stderr


def test_the_cookie_warning_is_silenced_and_the_telemetry_off():
    env = server_environment({"PATH": "/usr/bin", "HOME": "/root"})
    assert env["PYTHONWARNINGS"] == COOKIE_WARNING
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "false"
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/root"
    assert _warns(env) == ""
    assert "samesite=none" in _warns({k: v for k, v in env.items() if k != "PYTHONWARNINGS"})


def test_the_users_own_warning_filters_come_after_and_prevail():
    env = server_environment({"PYTHONWARNINGS": "error::UserWarning"})
    assert env["PYTHONWARNINGS"] == f"{COOKIE_WARNING},error::UserWarning"
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "false"
    done = subprocess.run(
        [sys.executable, "-c", f"import warnings; warnings.warn({SOLARA_WARNING!r})"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "UserWarning" in done.stderr


def test_the_users_telemetry_setting_is_kept():
    env = server_environment({"SOLARA_TELEMETRY_MIXPANEL_ENABLE": "true"})
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "true"
