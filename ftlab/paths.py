"""Where ftlab keeps its files: `$FTLAB_HOME` (default ~/.cache/ftlab), never inside the source tree.

    $FTLAB_HOME/models/   converted or downloaded models (one folder per reference)
    $FTLAB_HOME/runs/     one directory per training run
    $FTLAB_HOME/uploads/  uploaded datasets, kept so a run's config.yaml can re-run
"""

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
ASSETS = PACKAGE_ROOT.parent / "assets"


def home() -> Path:
    """The ftlab home directory, created on first use."""
    path = Path(os.environ.get("FTLAB_HOME") or Path.home() / ".cache" / "ftlab").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _folder(name: str) -> Path:
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    return _folder("runs")


def models_dir() -> Path:
    return _folder("models")


def uploads_dir() -> Path:
    return _folder("uploads")


def on_space() -> bool:
    """True when running on a Hugging Face Space."""
    return bool(os.environ.get("SPACE_ID"))
