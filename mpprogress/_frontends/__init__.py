"""Front ends that let code written for tqdm or ``rich.progress`` report to mpprogress unchanged.

- ``frontends.tqdm``: ``tqdm`` and ``trange`` with tqdm's semantics (one import to switch);
- ``frontends.rich``: ``Progress`` with the calls scripts make on ``rich.progress.Progress``;
- ``frontends.maps``: ``process_map`` and ``thread_map``, a row per worker under an overall phase;
- ``frontends.patch``: ``patch_tqdm()``, for code that imports tqdm itself;
- ``frontends.placement``: where their phases go (``shared_operation``, ``MPPROGRESS_OPERATION``);
- ``frontends.output``: printing above the display (``write``), from any process.

The top layer: these modules use the port and the wiring, and nothing below imports them.
Importing this package imports neither tqdm nor rich.
"""

from __future__ import annotations

__all__: list[str] = []
