"""Messages that leave the server (API errors, banners) name files by their own name, never by a server path:
a path tells a caller where FTLAB_HOME, the runs and other users' files are.

The engine's messages already quote file names; this is the last pass at the boundary, for what a library
or an OS error puts in (`[Errno 2] No such file or directory: '/srv/…/runs/…'`).
"""

from __future__ import annotations

import re

_PATH = re.compile(r"(?<![\w.:/~-])(?:~|\.{1,2})?/(?:[^\s'\"`,;:()\[\]{}<>/]+/)*[^\s'\"`,;:()\[\]{}<>/]*")
"""An absolute (or ~/, ./, ../) path not inside a word or a URL."""


def paths(text: str) -> str:
    """`text` with every path replaced by its last part (a folder's path by its name)."""
    return _PATH.sub(lambda m: next((part for part in reversed(m.group(0).split("/")) if part), "…"), text)
