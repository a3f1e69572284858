"""Whether this process is a Jupyter kernel's: the one test the wiring makes to pick the
notebook display, without importing IPython (or anything else) where it is not already loaded."""

from __future__ import annotations

import multiprocessing
import sys

__all__ = ["in_notebook"]


def in_notebook() -> bool:
    """``True`` in the process of a running Jupyter kernel (an IPython ``ZMQInteractiveShell``,
    or a subclass of it).

    A child of that process (a forked pool worker inherits the shell object) is not one: only
    the kernel's own process may send it display messages.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None or multiprocessing.parent_process() is not None:
        return False
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    try:
        shell = get_ipython()
    except Exception:
        return False
    # By name through the class's bases: a hosted kernel's shell (Colab's) subclasses it.
    return shell is not None and any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)
