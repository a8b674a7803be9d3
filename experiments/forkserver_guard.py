"""Imported by a pool's forkserver, first: it and its workers end when their command ends.

``experiments.runner`` names this module in the forkserver's preload list, so the import
runs in the forkserver process only (never in the command). The forkserver then gets
SIGKILL from the kernel when the command ends, however it ends, and every worker it
forks asks, the moment it is forked, for the same when the forkserver ends: before the
worker imports anything (a worker first imports the command's main module, the whole
model, which takes seconds on a loaded machine), and without running any Python when
the time comes (``experiments.lifetime``).
"""

import os

from .lifetime import die_with_parent

die_with_parent()
os.register_at_fork(after_in_child=die_with_parent)
