"""The layers hold: no engine module imports Gradio or the app (its Lab, its UI, its translation of texts: the
engine writes codes and facts, ftlab/app/texts.py words), and no layer imports one above it (data -> tasks ->
methods -> train, eval, runs -> serve, deploy -> app). Read from the source with
`ast`, so an import inside a function counts too."""

import ast
from pathlib import Path

import pytest

import ftlab

PACKAGE = Path(ftlab.__file__).parent
ORDER = ["data", "tasks", "methods", "train", "eval", "runs", "serve", "deploy", "app"]
"""Bottom to top. train and eval call each other (a run evaluates as it trains; an evaluation uses the loss) and
runs' job queue starts training: those pairs are one level for this test; so are serve and deploy (the server
answers from exported files, an export's costs are measured through the server)."""
LEVEL = {"data": 0, "tasks": 1, "methods": 2, "train": 3, "eval": 3, "runs": 3, "serve": 4, "deploy": 4, "app": 5}
FOUNDATION = {"config", "paths", "modeling", "metrics", "events", "checks"}
NAMES_READ = {"config.py": {"ftlab.methods.registry", "ftlab.methods.settings", "ftlab.train.optim", "ftlab.tasks"}}
"""A config validates the names it is given against the registries that define them (tasks, methods, optimizers
and schedules): it reads their names and defaults, nothing else; and it holds the methods' own sections of
settings (ftlab.methods.settings), which check themselves."""
ENGINE = [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in ("app", "__main__.py")]


def imported(path: Path) -> set[str]:
    """Every module `path` imports, as dotted names (`from ftlab import data` -> ftlab.data)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def test_the_engine_packages_exist_and_are_walked():
    assert {layer(p) for p in ENGINE} >= {"data", "tasks", "methods", "train", "eval", "runs", "serve", "deploy",
                                          *FOUNDATION}
    assert len(ENGINE) > 40


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_engine_module_imports_gradio_the_app_or_its_translation(path: Path):
    bad = {n for n in imported(path) if n.split(".")[0] == "gradio" or n.startswith(("ftlab.app", "ftlab.i18n"))}
    assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_layer_imports_one_above_it(path: Path):
    own = LEVEL.get(layer(path), -1)
    above = {n for n in imported(path) if n.startswith("ftlab.") and LEVEL.get(n.split(".")[1], -1) > own
             and not any(n.startswith(ok) for ok in NAMES_READ.get(str(path.relative_to(PACKAGE)), ()))}
    assert not above, f"{path.relative_to(PACKAGE)} (layer {layer(path)}) imports {sorted(above)}"
