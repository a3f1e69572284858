"""asyncio tasks reporting to one tracker, as in the seed's content extraction.

Phase 1 downloads pages with ``asyncio.gather`` under a ``Semaphore(10)``: one update per page,
failures shown as messages.  Phase 2 parses the pages with ``asyncio.to_thread``: the update is
made from the worker thread, which is just as safe as from the event loop.

Run it:  python examples/asyncio_gather.py [--pages 120] [--fail-every 9]
Last line (for scripts and tests):  RESULT pages=120 extracted=107 failed=13 parsed=107 words=...
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Sequence

import mpprogress


class FetchError(Exception):
    """A page that could not be downloaded."""


async def fetch(url: str, number: int, fail_every: int) -> str:
    """Pretend to download a page: a few milliseconds of waiting; every ``fail_every``-th fails."""
    await asyncio.sleep(random.uniform(0.002, 0.03))
    if fail_every and number % fail_every == 0:
        raise FetchError(f"HTTP 500 from {url}")
    return f"<p>page {number} " + "lorem ipsum " * (number % 7 + 1) + "</p>"


def parse(html: str, phase: mpprogress.ProgressPhase) -> int:
    """Count the words of a page (in a worker thread) and report it."""
    words = len(html.removeprefix("<p>").removesuffix("</p>").split())
    phase.update(1, message=f"{words} words")
    return words


async def extract(op: mpprogress.ProgressOperation, urls: list[str], fail_every: int) -> dict[str, str]:
    """Phase 1, the seed's way: gather every page, at most 10 at a time."""
    contents: dict[str, str] = {}
    with op.phase("Content Extraction", total=len(urls), description="Parallel page scraping") as phase:
        semaphore = asyncio.Semaphore(10)

        async def extract_single_page(number: int, url: str) -> None:
            async with semaphore:
                try:
                    contents[url] = await fetch(url, number, fail_every)
                    phase.update(1, f"✅ Extracted {url}")
                except FetchError as exc:
                    phase.update(1, f"❌ Failed {url}: {str(exc)[:50]}")

        await asyncio.gather(*(extract_single_page(n, url) for n, url in enumerate(urls, 1)))
        phase.set_progress(len(urls), f"Extracted content from {len(contents)} pages")
    return contents


async def research(tracker: mpprogress.ProgressTracker, pages: int, fail_every: int) -> tuple[int, int, int]:
    urls = [f"https://example.com/page/{n}" for n in range(1, pages + 1)]
    with tracker.operation("Scraping example.com", "asyncio.gather + asyncio.to_thread") as op:
        contents = await extract(op, urls, fail_every)
        with op.phase("Parsing", total=len(contents), description="in worker threads") as phase:
            words = await asyncio.gather(*(asyncio.to_thread(parse, html, phase) for html in contents.values()))
    return len(contents), len(urls) - len(contents), sum(words)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=120)
    parser.add_argument("--fail-every", type=int, default=9, help="every n-th page fails (0: none)")
    args = parser.parse_args(argv)

    with mpprogress.ConsoleProgressTracker() as tracker:
        extracted, failed, words = asyncio.run(research(tracker, args.pages, args.fail_every))
        op = tracker.snapshot().operations[-1]
    extraction, parsing = op.phases
    print(
        f"RESULT pages={extraction.current} extracted={extracted} failed={failed} "
        f"parsed={parsing.current} words={words}"
    )


if __name__ == "__main__":
    main()
