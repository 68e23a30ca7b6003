"""Where ftlab keeps its files: `$FTLAB_HOME` (default ~/.cache/ftlab; on a Hugging Face Space with persistent
storage, /data/ftlab, so runs outlive a restart), never inside the source tree.

    $FTLAB_HOME/models/   converted or downloaded models (one folder per reference)
    $FTLAB_HOME/runs/     one directory per training run
    $FTLAB_HOME/uploads/  uploaded datasets, kept so a run's config.yaml can re-run
"""

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
ASSETS = PACKAGE_ROOT.parent / "assets"


SPACE_STORAGE = Path("/data")
"""A Space's persistent storage, when the Space has it."""


def default_home() -> Path:
    if on_space() and SPACE_STORAGE.is_dir() and os.access(SPACE_STORAGE, os.W_OK):
        return SPACE_STORAGE / "ftlab"
    return Path.home() / ".cache" / "ftlab"


def home() -> Path:
    """The ftlab home directory, created on first use."""
    path = Path(os.environ.get("FTLAB_HOME") or default_home()).expanduser()
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


def gguf_dir() -> Path:
    """Base models written as GGUF for the llama.cpp path of Compare (ftlab.serve.gguf_serving)."""
    return _folder("gguf")


def uploads_dir() -> Path:
    return _folder("uploads")


def on_space() -> bool:
    """True when running on a Hugging Face Space."""
    return bool(os.environ.get("SPACE_ID"))


def studies_dir() -> Path:
    """Auto-tune studies (ftlab.runs.study): each a folder with its budget and Optuna's journal."""
    return _folder("studies")
