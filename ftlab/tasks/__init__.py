"""Tasks, one object each (ftlab.tasks.base.Task): chat and classify, and any task registered after them.

The layer between the data and the methods: a task may import ftlab.data, ftlab.metrics and the foundations
(config excepted: config asks this registry which tasks exist); the engine, the evaluator, the report, the
planner, the model server and the app ask a run's task (`get(cfg.task)`) and never test a task's name.
"""

from __future__ import annotations

from ftlab.tasks.base import Cases, Task  # noqa: F401 - the seam's types, for task modules and callers

_TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Make `task` known by its name (a task of the same name is replaced), with the data formats it brings."""
    from ftlab.data import formats

    for fmt in task.formats:
        formats.FORMATS[fmt.name] = fmt
    _TASKS[task.name] = task
    return task


def get(name: str) -> Task:
    try:
        return _TASKS[name]
    except KeyError:
        raise ValueError(f"task: {name!r} is not one of {', '.join(_TASKS)}") from None


def find(name: str) -> Task | None:
    """The task of that name, or None (a run of a task this app no longer has)."""
    return _TASKS.get(name)


def names() -> list[str]:
    return list(_TASKS)


def default_models() -> dict[str, str]:
    """Each task's default base model."""
    return {name: task.default_model for name, task in _TASKS.items()}


from ftlab.tasks.chat import Chat  # noqa: E402 - the registrations, after the registry they fill
from ftlab.tasks.classify import Classify  # noqa: E402
from ftlab.tasks.preference import Preference  # noqa: E402

register(Chat())
register(Classify())
register(Preference())
