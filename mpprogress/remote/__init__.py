"""The multiprocess side: the wire codec, worker clients and the parent-side aggregator.

Importing this package imports nothing else; ``wire`` never imports zmq, and ``client``,
``aggregator``, ``transport`` and ``session`` import it only when imported themselves.
"""

from __future__ import annotations

__all__: list[str] = []
