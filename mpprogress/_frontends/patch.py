"""``patch_tqdm()``: make code that imports tqdm itself report to mpprogress, for a while.

For code you do not own (a library that does ``from tqdm.auto import tqdm`` inside a function,
or calls ``tqdm.tqdm(...)``)::

    with mpprogress.session(), mpprogress.patch_tqdm():
        library.run()            # its tqdm bars are rows of the one display

Inside the block ``tqdm.tqdm``, ``tqdm.std.tqdm``, ``tqdm.auto.tqdm``, ``tqdm.autonotebook.tqdm``,
``tqdm.asyncio.tqdm`` (and their ``trange``) are this package's; on exit the originals are put
back.  A module that already did ``from tqdm import tqdm`` before the block keeps the name it
bound: patch before importing it.  Processes forked inside the block inherit the patch; for
``spawn`` and ``forkserver`` workers, pass ``patch_tqdm`` as the pool's ``initializer`` (calling
it applies the patch for the rest of that process).

This is the only module of mpprogress that imports tqdm.
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType, TracebackType
from typing import Any

from .placement import show_worker_writes
from .tqdm import tqdm, trange

__all__ = ["patch_tqdm"]

_MODULES = ("tqdm", "tqdm.std", "tqdm.auto", "tqdm.autonotebook", "tqdm.asyncio")
_NAMES = {"tqdm": tqdm, "trange": trange, "tqdm_asyncio": tqdm}
_lock = threading.Lock()


class patch_tqdm:  # a lower-case class: it is used like a function, ``with patch_tqdm():``
    """Replace tqdm's classes with mpprogress's from now until ``restore()`` (or the ``with``'s end).

    Patches nest: each restores what it found.

    Raises:
        ModuleNotFoundError: tqdm is not installed.
    """

    def __init__(self) -> None:
        self._saved: list[tuple[ModuleType, str, Any]] = []
        modules = [importlib.import_module(_MODULES[0])]
        for name in _MODULES[1:]:
            try:
                modules.append(importlib.import_module(name))
            except ImportError:  # tqdm.autonotebook may want IPython bits, tqdm.asyncio asyncio
                continue
        with _lock:
            for module in modules:
                for name, replacement in _NAMES.items():
                    if name in vars(module):
                        self._saved.append((module, name, vars(module)[name]))
                        setattr(module, name, replacement)
        show_worker_writes()

    def restore(self) -> None:
        """Put tqdm's own classes back (idempotent)."""
        with _lock:
            saved, self._saved = self._saved, []
            for module, name, original in reversed(saved):
                setattr(module, name, original)

    def __enter__(self) -> patch_tqdm:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.restore()
