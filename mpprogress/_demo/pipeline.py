"""The demo's 4-phase company research pipeline (the seed's tutorial, section 6), on the local site.

1. Link Discovery: robots.txt, sitemap.xml and a breadth-first crawl bounded in depth; the total
   grows as the crawl finds pages to fetch.
2. Page Selection: a deterministic scorer standing in for the LLM, with a short think time.
3. Content Extraction: ``asyncio.gather`` under a ``Semaphore``, one update per page; 5xx answers
   are retried, failures shown as messages.
4. Analysis: the extracted text aggregated into a ``CompanyProfile``.

Only the tracker port is used, so the same code reports to a local tracker in threaded mode and
to the parent's display from a worker process.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import zlib
from collections import Counter, deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from .._base.port import ProgressOperation, ProgressPhase
from .fetch import Fetched, http_get, parse_page

__all__ = [
    "CompanyProfile",
    "CompanyTarget",
    "PipelineConfig",
    "analyse",
    "choose_pages",
    "discover_links",
    "extract_content",
    "research",
    "research_company",
    "score_path",
    "select_pages",
]


@dataclass(frozen=True)
class PipelineConfig:
    """The knobs of the pipeline; the defaults are what ``mpprogress demo`` uses.

    Attributes:
        crawl_depth: pages at a depth below this (the home page is 0) are fetched by the crawl.
        concurrency: pages extracted at once (the seed's ``Semaphore(10)``).
        attempts: tries per page; 5xx answers and connection errors are retried, 4xx are not.
        select_fraction: share of the discovered links the scorer keeps...
        max_selected: ...but never more than this many.
        think_time: seconds the stand-in for the LLM takes to score the links.
        analysis_time: seconds the stand-in for the models takes over the 4 analysis steps.
        timeout: seconds to wait for one HTTP answer.
        retry_delay: seconds before the first retry; doubles with each further one.
    """

    crawl_depth: int = 2
    concurrency: int = 10
    attempts: int = 3
    select_fraction: float = 0.4
    max_selected: int = 120
    think_time: float = 0.8
    analysis_time: float = 0.6
    timeout: float = 10.0
    retry_delay: float = 0.02


@dataclass(frozen=True)
class CompanyTarget:
    """Which company to research, and where its site is (``base_url`` + ``/<slug>/``)."""

    name: str
    slug: str
    base_url: str

    @property
    def root(self) -> str:
        """The path of the company's home page."""
        return f"/{self.slug}/"

    def short(self, path: str) -> str:
        """A path as messages show it: relative to the company's home page (``home`` for it)."""
        return path.removeprefix(self.root) or "home"


@dataclass(frozen=True)
class CompanyProfile:
    """The structured result of researching one company (``None`` where a fact was not found)."""

    name: str
    industry: str | None
    founded: int | None
    headquarters: str | None
    employees: int | None
    products: tuple[str, ...]
    links_discovered: int
    pages_selected: int
    pages_extracted: int
    pages_failed: int
    retries: int
    words: int
    keywords: tuple[str, ...]
    embedding: tuple[float, ...]


async def _fetch(target: CompanyTarget, path: str, config: PipelineConfig, phase: ProgressPhase) -> Fetched:
    """GET a path of the site in a worker thread, retrying 5xx answers and connection errors."""
    started = time.perf_counter()
    status, body, error, attempt = 0, "", "", 0
    for attempt in range(1, config.attempts + 1):
        status, body, error = await asyncio.to_thread(http_get, target.base_url + path, config.timeout)
        if status == 200 or 400 <= status < 500 or attempt == config.attempts:
            break
        phase.update(0, f"↻ {target.short(path)}: {error}, retry {attempt}/{config.attempts - 1}")
        await asyncio.sleep(config.retry_delay * 2 ** (attempt - 1))
    return Fetched(path, status, body, attempt, time.perf_counter() - started, error)


# --- phase 1: link discovery ------------------------------------------------------------------


@dataclass
class _Discovery:
    paths: list[str]
    retries: int


async def discover_links(op: ProgressOperation, target: CompanyTarget, config: PipelineConfig) -> _Discovery:
    """Phase 1: robots.txt, sitemap.xml, then a breadth-first crawl from the home page."""
    with op.phase("Link Discovery", total=2, description="robots.txt, sitemap.xml and a crawl") as phase:
        robots = await _fetch(target, f"{target.root}robots.txt", config, phase)
        disallowed = tuple(re.findall(r"(?im)^Disallow:\s*(\S+)", robots.body))
        sitemaps = re.findall(r"(?im)^Sitemap:\s*(\S+)", robots.body) or [f"{target.root}sitemap.xml"]
        phase.update(1, f"robots.txt: {len(disallowed)} disallowed, {len(sitemaps)} sitemap(s)")

        def allowed(path: str) -> bool:
            return path.startswith(target.root) and not path.startswith(disallowed)

        sitemap = await _fetch(target, _path_of(sitemaps[0]), config, phase)
        known = {path for path in map(_path_of, re.findall(r"<loc>([^<]+)</loc>", sitemap.body)) if allowed(path)}
        phase.update(1, f"sitemap.xml: {len(known)} links")

        retries = robots.attempts + sitemap.attempts - 2
        seen, queue = {target.root}, deque([(target.root, 0)])
        to_fetch = 1 if config.crawl_depth > 0 else 0
        phase.set_total(2 + to_fetch)
        while queue:
            phase.raise_if_cancelled()
            path, depth = queue.popleft()
            known.add(path)
            if depth >= config.crawl_depth:
                continue
            page = await _fetch(target, path, config, phase)
            retries += page.attempts - 1
            for link in map(_path_of, parse_page(page.body).links if page.ok else ()):
                if allowed(link) and link not in seen:
                    seen.add(link)
                    queue.append((link, depth + 1))
                    to_fetch += depth + 1 < config.crawl_depth
            phase.set_total(2 + to_fetch)
            phase.update(1, f"{len(known) + len(queue)} links; crawled {target.short(path)} (depth {depth})")
        phase.set_progress(2 + to_fetch, f"{len(known)} unique links discovered", links=len(known))
        return _Discovery(sorted(known), retries)


def _path_of(link: str) -> str:
    """The path of a link given as a URL or a path (query and fragment dropped)."""
    return urlsplit(link).path or "/"


# --- phase 2: page selection ------------------------------------------------------------------

_SECTION_SCORES = (
    ("/about.html", 1.0), ("/team.html", 0.95), ("/products/", 0.85), ("/pricing.html", 0.8),
    ("/careers/", 0.6), ("/contact.html", 0.55), ("/news/", 0.45), ("/blog/", 0.3), ("/docs/", 0.25),
)


def score_path(path: str) -> float:
    """How valuable a page looks from its path alone, in [0, 1.1): deterministic.

    Section pages (about, team, products...) rank first; a small checksum of the path breaks
    ties, as a model's scores would.
    """
    base = next((score for marker, score in _SECTION_SCORES if marker in path), 0.5)
    return base + (zlib.crc32(path.encode()) % 1000) / 10_000


def select_pages(paths: Iterable[str], config: PipelineConfig) -> list[str]:
    """The pages worth extracting: the best-scored share of ``paths``, best first.

    Args:
        paths: the discovered paths.
        config: gives ``select_fraction`` and ``max_selected``.

    Returns:
        The selected paths, by falling score (then path).
    """
    ranked = sorted(set(paths), key=lambda path: (-score_path(path), path))
    keep = min(config.max_selected, max(1, round(len(ranked) * config.select_fraction)))
    return ranked[:keep] if ranked else []


async def choose_pages(
    op: ProgressOperation, target: CompanyTarget, paths: list[str], config: PipelineConfig
) -> list[str]:
    """Phase 2: score every link (with a simulated think time) and keep the best ones."""
    with op.phase("Page Selection", total=len(paths), description="a scorer standing in for the LLM") as phase:
        batch = 25
        pause = config.think_time / max(1, -(-len(paths) // batch))
        for start in range(0, len(paths), batch):
            phase.raise_if_cancelled()
            chunk = paths[start : start + batch]
            await asyncio.sleep(pause)
            best = max(chunk, key=score_path)
            phase.update(len(chunk), f"best so far: {target.short(best)} ({score_path(best):.2f})")
        selected = select_pages(paths, config)
        phase.set_progress(len(paths), f"Selected {len(selected)} high-value pages", selected=len(selected))
        return selected


# --- phase 3: content extraction --------------------------------------------------------------


@dataclass
class _Extraction:
    texts: dict[str, str]
    failures: list[str]
    retries: int


async def extract_content(
    op: ProgressOperation, target: CompanyTarget, paths: list[str], config: PipelineConfig
) -> _Extraction:
    """Phase 3: fetch the selected pages, ``config.concurrency`` at a time, one update per page."""
    description = f"{config.concurrency} pages at a time, {config.attempts} attempts each"
    with op.phase("Content Extraction", total=len(paths), description=description) as phase:
        semaphore = asyncio.Semaphore(config.concurrency)
        result = _Extraction({}, [], 0)

        async def extract_one(path: str) -> None:
            async with semaphore:
                phase.raise_if_cancelled()
                page = await _fetch(target, path, config, phase)
            result.retries += page.attempts - 1
            if page.ok:
                result.texts[path] = " ".join(parse_page(page.body).text)
                phase.update(1, f"✅ {target.short(path)} {page.seconds * 1000:.0f} ms")
            else:
                result.failures.append(f"{target.short(path)} ({page.error})")
                phase.update(1, f"❌ {target.short(path)}: {page.error} after {page.attempts} attempt(s)")

        await asyncio.gather(*(extract_one(path) for path in paths))
        failures = sorted(result.failures)
        shown = ", ".join(failures[:4]) + (f" and {len(failures) - 4} more" if len(failures) > 4 else "")
        phase.set_progress(
            len(paths),
            f"Extracted {len(result.texts)} pages, {len(failures)} failed" + (f": {shown}" if shown else ""),
            extracted=len(result.texts),
            failed=len(failures),
            retries=result.retries,
        )
        return result


# --- phase 4: analysis ------------------------------------------------------------------------

_STOPWORDS = frozenset(
    ["a", "an", "and", "the", "of", "our", "with", "for", "to", "in", "at", "is", "are", "we", "by", "work"]
)


@dataclass(frozen=True)
class _Facts:
    industry: str | None
    founded: int | None
    headquarters: str | None
    employees: int | None
    products: tuple[str, ...]
    keywords: tuple[str, ...]
    embedding: tuple[float, ...]
    words: int


async def analyse(
    op: ProgressOperation, target: CompanyTarget, extraction: _Extraction, config: PipelineConfig
) -> _Facts:
    """Phase 4: combine the text, find the company's facts, keywords and a small embedding."""
    with op.phase("Analysis", total=4, description="aggregating the extracted text") as phase:
        step = config.analysis_time / 4
        text = "\n".join(extraction.texts[path] for path in sorted(extraction.texts))
        words = re.findall(r"[a-z]+", text.lower())
        await asyncio.sleep(step)
        phase.update(1, f"Combined {len(words):,} words from {len(extraction.texts)} pages")

        about = re.search(r"is an? ([a-z ]+?) company founded in (\d{4}) and headquartered in ([A-Z]\w+)", text)
        staff = re.search(r"([\d,]+) employees", text)
        await asyncio.sleep(step)
        phase.update(1, "Found the company facts" if about else "Company facts not found")

        products = tuple(sorted(set(re.findall(r"Product: ([^.]+)\.", text))))
        ignored = _STOPWORDS | set(target.name.lower().split())
        keywords = tuple(word for word, _ in Counter(w for w in words if w not in ignored).most_common(5))
        await asyncio.sleep(step)
        phase.update(1, f"Extracted {len(products)} products and keywords {', '.join(keywords[:3])}")

        embedding = _embed(words)
        await asyncio.sleep(step)
        phase.set_progress(4, "✅ Analysis complete - company data ready")
        return _Facts(
            industry=about.group(1) if about else None,
            founded=int(about.group(2)) if about else None,
            headquarters=about.group(3) if about else None,
            employees=int(staff.group(1).replace(",", "")) if staff else None,
            products=products,
            keywords=keywords,
            embedding=embedding,
            words=len(words),
        )


def _embed(words: list[str], dimensions: int = 8) -> tuple[float, ...]:
    """A tiny hashed bag-of-words vector, unit length: the stand-in for real embeddings."""
    vector = [0.0] * dimensions
    for word in words:
        vector[hashlib.blake2s(word.encode(), digest_size=2).digest()[0] % dimensions] += 1.0
    norm = sum(value * value for value in vector) ** 0.5 or 1.0
    return tuple(round(value / norm, 3) for value in vector)


# --- the whole pipeline -----------------------------------------------------------------------


async def research(op: ProgressOperation, target: CompanyTarget, config: PipelineConfig) -> CompanyProfile:
    """Run the four phases for one company inside ``op``.

    Args:
        op: the operation the phases are reported in.
        target: the company and where its site is.
        config: the pipeline's knobs.

    Returns:
        The company's profile.
    """
    discovery = await discover_links(op, target, config)
    selected = await choose_pages(op, target, discovery.paths, config)
    extraction = await extract_content(op, target, selected, config)
    facts = await analyse(op, target, extraction, config)
    return CompanyProfile(
        name=target.name,
        links_discovered=len(discovery.paths),
        pages_selected=len(selected),
        pages_extracted=len(extraction.texts),
        pages_failed=len(extraction.failures),
        retries=discovery.retries + extraction.retries,
        industry=facts.industry,
        founded=facts.founded,
        headquarters=facts.headquarters,
        employees=facts.employees,
        products=facts.products,
        words=facts.words,
        keywords=facts.keywords,
        embedding=facts.embedding,
    )


def research_company(
    op: ProgressOperation, target: CompanyTarget, config: PipelineConfig | None = None
) -> CompanyProfile:
    """Run ``research`` in a fresh event loop whose thread pool fits ``config.concurrency``.

    Safe to call from any thread or worker process.

    Args:
        op: the operation the phases are reported in.
        target: the company and where its site is.
        config: the pipeline's knobs; the defaults when ``None``.

    Returns:
        The company's profile.
    """
    config = config or PipelineConfig()

    async def main() -> CompanyProfile:
        # asyncio.to_thread's default pool has min(32, cpus + 4) threads: 6 on 2 cores, fewer
        # than the semaphore allows.  asyncio.run shuts this pool down on the way out.
        executor = ThreadPoolExecutor(config.concurrency, thread_name_prefix="mpprogress-demo-fetch")
        asyncio.get_running_loop().set_default_executor(executor)
        return await research(op, target, config)

    return asyncio.run(main())
