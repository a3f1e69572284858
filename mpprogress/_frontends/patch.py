"""``patch_tqdm()``: make every tqdm bar of the process report to mpprogress, for a while.

For code you do not own (a library that did ``from tqdm.auto import tqdm`` at import time, or
calls ``tqdm.tqdm(...)``)::

    import library               # binds tqdm's classes: before or after the patch, either way
    with mpprogress.session(), mpprogress.patch_tqdm():
        library.run()            # its tqdm bars are rows of the one display

The patch changes tqdm's classes themselves, not the names modules bound: while it holds,
``tqdm.std.tqdm`` (the base of the whole family) behaves as ``mpprogress.tqdm``: its methods are
this package's.  So every subclass follows wherever it was imported: ``tqdm.auto``,
``tqdm.asyncio``, ``tqdm.autonotebook``, ``tqdm.contrib.*`` and the classes libraries and user
code derived from it (their own overrides run and reach ours through ``super()``).  tqdm's own
subclasses that draw elsewhere (``tqdm.notebook``, ``tqdm.rich``, ``tqdm.gui``, ``tqdm.tk``, the
Telegram, Discord and Slack bars) lose their drawing overrides while patched: they are rows of
the display like the others.  tqdm's pure text helpers (``format_meter``, ``format_sizeof``...)
stay tqdm's.  ``restore()`` (the ``with``'s end) puts every attribute back exactly; bars still
open then are closed (failed: ``patch ended``), so no bar is left half one class, half the other.
Bars made before the patch are tqdm's and should be closed before it.

Processes forked inside the block inherit the patch; for ``spawn`` and ``forkserver`` workers,
pass ``patch_tqdm`` as the pool's ``initializer`` (calling it applies the patch for the rest of
that process).

This is the only module of mpprogress that imports tqdm.
"""

from __future__ import annotations

import importlib
import inspect
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .._base.forksafe import ProcessLock
from .placement import show_worker_writes
from .tqdm import tqdm as mp_tqdm

__all__ = ["patch_tqdm"]

_KEEP = frozenset({
    # tqdm's pure helpers and class plumbing: the same results, nothing drawn
    "format_sizeof", "format_interval", "format_num", "format_meter", "status_printer", "pandas", "wrapattr",
    "__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__annotations__", "__orig_bases__",
    "__parameters__", "__slots__", "__init_subclass__", "__class_getitem__", "__firstlineno__",
    "__static_attributes__", "_abc_impl", "_instances", "monitor", "monitor_interval",
})
_DRAWERS = (  # tqdm's own subclasses that draw elsewhere, and what their __init__ takes besides tqdm's
    ("tqdm.notebook", "tqdm_notebook", ("display",)),
    ("tqdm.rich", "tqdm_rich", ("progress", "options")),
    ("tqdm.gui", "tqdm_gui", ()),
    ("tqdm.tk", "tqdm_tk", ("grab", "tk_parent", "cancel_callback")),
    ("tqdm.contrib.telegram", "tqdm_telegram", ("token", "chat_id")),
    ("tqdm.contrib.discord", "tqdm_discord", ("token", "channel_id")),
    ("tqdm.contrib.slack", "tqdm_slack", ("token", "channel")),
)
_MISSING = object()
_lock = ProcessLock(reentrant=True)  # re-entrant: closing a bar may run code that makes one
_depth = 0  # patches in force: the classes are restored when the outermost one ends


def _ours() -> dict[str, Any]:
    """mpprogress.tqdm's attributes, as they go onto ``tqdm.std.tqdm`` (first in the MRO wins)."""
    found: dict[str, Any] = {}
    for klass in reversed(mp_tqdm.__mro__[:-1]):
        found.update(vars(klass))
    return {name: value for name, value in found.items() if name not in _KEEP and name != "__new__"}


def _plain_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``tqdm.__new__`` while patched: no monitor thread, no registration (``__init__`` does it)."""
    return object.__new__(cls)


def _init_dropping(extras: tuple[str, ...]) -> Callable[..., None]:
    """An ``__init__`` that drops a drawing subclass's own arguments and makes a plain bar."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        for name in extras:
            kwargs.pop(name, None)
        kwargs.pop("gui", None)
        mp_tqdm.__init__(self, *args, **kwargs)

    return __init__


class patch_tqdm:  # a lower-case class: it is used like a function, ``with patch_tqdm():``
    """Make tqdm's classes report to mpprogress from now until ``restore()`` (or the ``with``'s end).

    Patches nest: tqdm is restored when the outermost one ends.

    Raises:
        ModuleNotFoundError: tqdm is not installed.
    """

    def __init__(self) -> None:
        global _depth
        std = importlib.import_module("tqdm.std")
        with _lock.current():
            self._active = True
            _depth += 1
            if _depth == 1:
                _apply(std)
        show_worker_writes()

    def restore(self) -> None:
        """Put tqdm's classes back as they were (idempotent); close the bars still open."""
        global _depth
        with _lock.current():  # held throughout: a patch made meanwhile must not see half-restored classes
            if not self._active:
                return
            self._active = False
            _depth -= 1
            if _depth > 0:
                return
            for bar in list(_state["instances"]):
                if "_closed" in vars(bar):
                    bar._close(False, "patch ended")
            _undo()

    def __enter__(self) -> patch_tqdm:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.restore()


_state: dict[str, Any] = {}
_saved: list[tuple[type, str, Any]] = []


def _set(cls: type, name: str, value: Any) -> None:
    _saved.append((cls, name, cls.__dict__.get(name, _MISSING)))
    setattr(cls, name, value)


def _apply(std: Any) -> None:
    base = std.tqdm
    instances: weakref.WeakSet[Any] = weakref.WeakSet()
    locks = {cls: vars(cls)["_lock"] for cls in _family(base) if "_lock" in vars(cls)}
    _state.update(base=base, instances=instances, locks=locks)
    for name, value in _ours().items():
        _set(base, name, value)
    _set(base, "__new__", staticmethod(_plain_new))
    _set(base, "_instances", instances)
    _set(base, "_key_error", std.TqdmKeyError)
    _set(base, "_deprecated", std.TqdmDeprecationWarning)
    asyncio_module = _module("tqdm.asyncio")
    if asyncio_module is not None:  # its own iteration and __init__ give way to ours
        for name in ("__init__", "__aiter__", "__anext__", "send", "as_completed", "gather"):
            if name in vars(asyncio_module.tqdm_asyncio):
                _set(asyncio_module.tqdm_asyncio, name, inspect.getattr_static(base, name))
    for module_name, class_name, extras in _DRAWERS:
        module = _module(module_name)
        klass = getattr(module, class_name, None) if module is not None else None
        if not isinstance(klass, type):
            continue
        for name in list(vars(klass)):
            if name == "__init__":
                _set(klass, name, _init_dropping(extras))
            elif name not in _KEEP and name in vars(base):
                _set(klass, name, inspect.getattr_static(base, name))
            elif isinstance(vars(klass)[name], property):  # drawn state (the notebook's colour)
                _set(klass, name, None)


def _family(base: type) -> list[type]:
    """``base`` and every subclass made so far."""
    found, todo = [], [base]
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.append(cls)
            todo.extend(cls.__subclasses__())
    return found


def _undo() -> None:
    locks = _state.get("locks", {})
    for cls in _family(_state["base"]):  # set_lock() during the patch set our lock on a subclass
        if cls is not _state["base"] and vars(cls).get("_lock", _MISSING) is not locks.get(cls, _MISSING):
            if cls in locks:
                type.__setattr__(cls, "_lock", locks[cls])
            elif "_lock" in vars(cls):
                delattr(cls, "_lock")
    while _saved:
        cls, name, original = _saved.pop()
        if original is _MISSING:
            if name in vars(cls):  # code may have deleted it meanwhile (``del tqdm._lock``)
                delattr(cls, name)
        else:
            setattr(cls, name, original)
    _state.clear()


def _module(name: str) -> Any:
    """A tqdm module, if it imports here (``tqdm.notebook`` wants ipywidgets, ``tqdm.tk`` tkinter...)."""
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a warning turned into an error: that class is not patched
        return None
