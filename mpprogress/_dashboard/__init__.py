"""The live web dashboard: every operation, phase, worker and recent log record in a browser.

``mpprogress.session(dashboard="127.0.0.1:0")``, ``mpprogress relay --http ADDR`` and
``mpprogress dashboard JOURNAL`` start one (``wiring/dashboard.py`` composes it).  The parts:

- ``model``: the rows the page shows, and the patch between two states (standard library);
- ``live`` / ``journal``: where states come from, a running tracker or a journal file;
- ``hub``: one diff per tick for every viewer, a bounded queue each (standard library);
- ``access``: binds, tokens, ``Host`` and CSRF checks (standard library);
- ``timeline``: the report's timeline as one SVG document;
- ``server``: the aiohttp application on its own thread (the one module importing aiohttp,
  the optional ``mpprogress[web]`` extra), and ``static/``: the page, its script and style.

Importing this package imports none of them.
"""

from __future__ import annotations

__all__: list[str] = []
