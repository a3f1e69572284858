"""CURVE keys for a relay or session reachable from other hosts (public).

``mpprogress keys DIR`` writes the same files :func:`generate_keys` does; a relay or a session
loads the server's half (``CurveServerKeys.load(DIR)``), workers the client's half (they find it
through ``MPPROGRESS_CURVE_DIR`` and ``MPPROGRESS_CURVE_CLIENT``).  Importing this module imports
pyzmq.
"""

from __future__ import annotations

from ._remote.security import CurveClientKeys, CurveServerKeys, InsecureBindError, generate_keys

__all__ = ["CurveClientKeys", "CurveServerKeys", "InsecureBindError", "generate_keys"]
