"""JAX's persistent compilation cache (``calibration.compilation_cache``): used, and harmless.

The same tiny flow is trained and sampled in three fresh processes (a process sets its
cache folder once): with the cache off, with it empty and with what the second left (every
program read back); the weights and draws must be the same bit for bit. The choices JAX
is given (a folder, the cache turned off) and an unwritable folder are checked in this
process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from calibration.compilation_cache import _writable_folder, cache_folder, use_compilation_cache

ROOT = Path(__file__).resolve().parents[1]

TRAIN_AND_SAMPLE = """
import hashlib, json, sys
from pathlib import Path
import numpy as np
import jax
from calibration.npe import Estimator, FlowSpec, save, train

events = []
jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
rng = np.random.default_rng(3)
z = rng.normal(size=(300, 2))
features = z + 0.3 * rng.normal(size=(300, 2))
spec = FlowSpec(layers=2, width=8, depth=1, ensemble=1, max_epochs=3, patience=2)
flows, mean, sd, _ = train(z, features, spec, seed=5)
estimator = Estimator(flows, spec, ["a", "b"], ["x", "y"], mean, sd, "key", 300, 5)
draws = estimator.sample(np.array([0.5, -0.5]), 64, seed=2)
save(estimator, Path(sys.argv[1]))
print(json.dumps({
    "folder": jax.config.jax_compilation_cache_dir,
    "requests": events.count("/jax/compilation_cache/compile_requests_use_cache"),
    "hits": events.count("/jax/compilation_cache/cache_hits"),
    "draws": hashlib.sha256(draws.tobytes()).hexdigest(),
    "weights": hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest(),
}))
"""


def _run(tmp_path: Path, name: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    done = subprocess.run(
        [sys.executable, "-c", TRAIN_AND_SAMPLE, str(tmp_path / f"{name}.eqx")],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_programs_read_back_from_the_cache_give_the_same_flow_and_draws(tmp_path):
    home = tmp_path / "home"

    off = _run(tmp_path, "off", XDG_CACHE_HOME=str(home), JAX_ENABLE_COMPILATION_CACHE="false")
    fresh = _run(tmp_path, "fresh", XDG_CACHE_HOME=str(home))
    folder = Path(fresh["folder"])
    kept = sorted(p.name for p in folder.iterdir())
    again = _run(tmp_path, "again", XDG_CACHE_HOME=str(home))

    assert off["folder"] is None and off["requests"] == 0
    assert folder.parent == home / "ngo-abm" / "jax" and again["folder"] == fresh["folder"]
    # The first process with the cache compiles what it asks for (reading back only what
    # it compiled twice itself); the next reads back every program it asks for.
    assert kept and fresh["hits"] < fresh["requests"]
    assert again["hits"] == again["requests"] > 0
    assert sorted(p.name for p in folder.iterdir()) == kept
    assert (fresh["draws"], fresh["weights"]) == (off["draws"], off["weights"])
    assert (again["draws"], again["weights"]) == (off["draws"], off["weights"])


@pytest.fixture
def jax_cache_settings():
    """Restore JAX's cache settings after a test that changes them in this process."""
    import jax

    names = ("jax_enable_compilation_cache", "jax_compilation_cache_dir")
    before = {name: getattr(jax.config, name) for name in names}
    yield jax.config
    for name, value in before.items():
        jax.config.update(name, value)


def test_a_folder_chosen_through_jax_is_kept(jax_cache_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))
    jax_cache_settings.update("jax_enable_compilation_cache", True)
    jax_cache_settings.update("jax_compilation_cache_dir", str(tmp_path / "chosen"))

    assert use_compilation_cache.__wrapped__() == tmp_path / "chosen"
    assert jax_cache_settings.jax_compilation_cache_dir == str(tmp_path / "chosen")
    assert not (tmp_path / "home").exists()


def test_a_cache_turned_off_stays_off(jax_cache_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))
    jax_cache_settings.update("jax_enable_compilation_cache", False)

    assert use_compilation_cache.__wrapped__() is None
    assert not (tmp_path / "home").exists()


def test_an_unwritable_cache_folder_leaves_the_cache_off(jax_cache_settings, tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    jax_cache_settings.update("jax_enable_compilation_cache", True)
    jax_cache_settings.update("jax_compilation_cache_dir", None)

    assert use_compilation_cache.__wrapped__() is None
    assert jax_cache_settings.jax_compilation_cache_dir is None


def test_an_existing_folder_that_cannot_be_written_leaves_the_cache_off(
    jax_cache_settings, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    jax_cache_settings.update("jax_enable_compilation_cache", True)
    jax_cache_settings.update("jax_compilation_cache_dir", None)

    assert use_compilation_cache.__wrapped__() is None
    assert jax_cache_settings.jax_compilation_cache_dir is None


def test_empty_entries_left_by_a_killed_write_are_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = cache_folder()
    folder.mkdir(parents=True)
    (folder / "jit_a-1-cache").write_bytes(b"")
    (folder / "jit_b-2-cache").write_bytes(b"compiled")

    assert _writable_folder() == folder
    assert [p.name for p in folder.iterdir()] == ["jit_b-2-cache"]


def test_a_relative_xdg_cache_home_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path))

    assert cache_folder().parent == tmp_path / ".cache" / "ngo-abm" / "jax"


def test_no_home_folder_leaves_the_cache_off(monkeypatch):
    def homeless():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(homeless))

    assert _writable_folder() is None
