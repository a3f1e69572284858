"""Walks over trees of phases, written without recursion.

Phases nest to any depth a tracker allows (``max_phase_depth``), and a remote worker decides how
deep its phases go, so no walk over them may recurse: a Python recursion stops near 1,000
levels.  Every walk of the local tracker goes through the two functions here, which keep their
own stacks.  Both take a ``children`` function instead of knowing what a node is, so one node
type can be walked in several ways (all sub-phases, only the open ones, only those that roll
up), and a node may be a tuple that carries what the walk hands down (whether an ancestor was
cancelled, say).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

__all__ = ["fold", "preorder"]

N = TypeVar("N")
R = TypeVar("R")


def preorder(roots: Sequence[N], children: Callable[[N], Sequence[N]]) -> Iterator[N]:
    """Every node under ``roots``, depth first, each before its children, in child order.

    Args:
        roots: the nodes to start from, in order.
        children: a node's children, in order.

    Yields:
        The nodes, as a recursive pre-order walk would visit them.
    """
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def fold(roots: Sequence[N], children: Callable[[N], Sequence[N]], build: Callable[[N, list[R]], R]) -> list[R]:
    """Build a value for every node from its children's values, bottom up.

    ``build`` runs for each node after it ran for all of the node's children (and their
    children...), in the order of a recursive post-order walk: the first child's whole subtree,
    then the second's, ..., then the node.

    Args:
        roots: the nodes to start from, in order.
        children: a node's children, in order; asked once per node, before any of them is built.
        build: a node's value from the node and its children's values (in child order).

    Returns:
        The values of ``roots``, in order.
    """
    built: list[list[R]] = [[]]  # one list per node being built: its children's values so far
    stack: list[tuple[N, bool]] = [(root, False) for root in reversed(roots)]
    while stack:
        node, ready = stack.pop()
        if ready:
            values = built.pop()
            built[-1].append(build(node, values))
        else:
            stack.append((node, True))
            built.append([])
            stack.extend((child, False) for child in reversed(children(node)))
    return built[0]
