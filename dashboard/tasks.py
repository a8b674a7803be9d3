"""Long runs of the dashboard's views in a thread (``solara.lab.task``): progress and status.

A view's task reports ``(done, total)`` through ``reporter``, which also stops it when the
user has asked for a newer run; ``task_result`` shows the progress bar while it runs and
the error if it failed.
"""

from __future__ import annotations

from collections.abc import Callable

import solara


class Superseded(Exception):
    """A newer run was asked for: this one stops."""


def reporter(job, text: solara.Reactive[str], unit: str) -> Callable[[int, int], None]:
    """Return the progress callback of a task: its bar, and ``text`` as "d of n <unit>"."""

    def report(done: int, total: int) -> None:
        if not job.is_current():
            raise Superseded
        job.progress = 100.0 * done / total
        text.value = f"{done} of {total} {unit}"

    return report


def task_result(job, text: solara.Reactive[str], what: str, hint: str):
    """Show a task's state in the view being rendered; return its value once finished.

    Args:
        job: The view's task.
        text: The task's progress text (``reporter``).
        what: What the task runs, for its error ("The <what> failed: ...").
        hint: Markdown shown before the first run.
    """
    if job.not_called:
        solara.Markdown(hint)
        return None
    if job.pending:
        solara.ProgressLinear(job.progress or True)
        solara.Text(f"Running: {text.value}")
    if job.error and not isinstance(job.exception, Superseded):
        solara.Error(f"The {what} failed: {job.exception}")
    return job.value if job.finished else None
