"""The demo's local website: a few companies' sites, generated from a seed and served on 127.0.0.1.

Every company lives under its own path prefix (``/<slug>/``) with a ``robots.txt``, a
``sitemap.xml``, a home page, section hub pages and a few hundred leaf pages.  Some pages are
slow, some always fail with 500, some answer 503 to every other request (so a retry helps), and
some links point at pages that were removed (404).  Slow means tens of milliseconds: enough to be
seen, short enough for the whole demo to take a few seconds.  The model is pure data, so tests can
ask it for the exact numbers a correct pipeline must report (``CompanySite.discovery``, ``status``).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from html import escape

__all__ = [
    "MIN_PAGES",
    "Company",
    "CompanySite",
    "DemoSite",
    "Discovery",
    "Page",
    "generate_site",
    "render_page",
]

SECTIONS = ("products", "blog", "news", "careers", "docs")
SPECIAL_PAGES = ("about.html", "team.html", "pricing.html", "contact.html")
# Leaf pages are spread over these sections with these weights.
_LEAF_SECTIONS = ("blog", "news", "careers", "docs")
_LEAF_WEIGHTS = (5, 3, 1, 2)
MIN_PAGES = 1 + len(SECTIONS) + len(SPECIAL_PAGES) + 5 + 1  # home, hubs, specials, products, 1 leaf

_COMPANIES = (
    ("Acme Robotics", "robotics"),
    ("Globex Logistics", "logistics"),
    ("Initech Software", "software"),
    ("Umbrella Health", "healthcare"),
    ("Stark Energy", "energy"),
    ("Hooli Cloud", "cloud computing"),
    ("Wonka Foods", "food"),
    ("Tyrell Biotech", "biotechnology"),
)
_CITIES = ("Lisbon", "Toronto", "Osaka", "Nairobi", "Denver", "Tallinn", "Lyon", "Melbourne")
_ADJECTIVES = ("Swift", "Quantum", "Bright", "Iron", "Nimbus", "Atlas", "Echo", "Vertex", "Polar")
_NOUNS = ("Engine", "Hub", "Forge", "Pilot", "Vault", "Stream", "Beacon", "Grid", "Lens")
_WORDS = (
    "customers", "platform", "reliable", "teams", "growth", "data", "secure", "global", "partners",
    "launch", "scale", "insight", "quality", "service", "research", "design", "support", "market",
)


@dataclass(frozen=True)
class Company:
    """The facts a correct analysis should find on a company's site."""

    name: str
    slug: str
    industry: str
    founded: int
    headquarters: str
    employees: int
    products: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    """One HTML page of a company's site.

    ``status`` is 200, or 500 for a page that is always broken.  A ``flaky`` page answers 503
    to every other request (the 1st, 3rd, ...), so each fetch of it needs exactly one retry.
    """

    path: str
    title: str
    status: int
    flaky: bool
    latency: float
    links: tuple[str, ...]
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Discovery:
    """What link discovery finds on a site: the pages its crawl fetches and every path it learns."""

    fetched: tuple[str, ...]
    paths: tuple[str, ...]

    @property
    def crawl_fetches(self) -> int:
        """How many pages the crawl fetches."""
        return len(self.fetched)


@dataclass(frozen=True)
class CompanySite:
    """One company's site: its pages by path, its sitemap and its robots rules."""

    company: Company
    pages: Mapping[str, Page]
    sitemap: tuple[str, ...]
    disallowed: tuple[str, ...]
    dead_links: tuple[str, ...]

    @property
    def root(self) -> str:
        """The path of the home page, ``/<slug>/``."""
        return f"/{self.company.slug}/"

    def status(self, path: str) -> int:
        """The status a page finally answers with (after retries): 200, 404 or 500."""
        page = self.pages.get(path)
        return 404 if page is None else page.status

    def count(self, *, status: int | None = None, flaky: bool | None = None) -> int:
        """How many pages have the given final ``status`` and/or ``flaky`` flag."""
        return sum(
            1
            for page in self.pages.values()
            if (status is None or page.status == status) and (flaky is None or page.flaky == flaky)
        )

    def allowed(self, path: str) -> bool:
        """Whether robots.txt lets a crawler fetch ``path`` (and whether it is on this site)."""
        return path.startswith(self.root) and not path.startswith(self.disallowed)

    def discovery(self, max_depth: int) -> Discovery:
        """The exact result of a breadth-first crawl from the home page plus the sitemap.

        Pages at depth below ``max_depth`` are fetched; links found on them are learnt.

        Args:
            max_depth: the crawl bound the pipeline uses.

        Returns:
            The pages fetched, in crawl order, and the sorted set of allowed paths learnt.
        """
        known = {path for path in self.sitemap if self.allowed(path)}
        seen = {self.root}
        queue = deque([(self.root, 0)])
        fetched: list[str] = []
        while queue:
            path, depth = queue.popleft()
            known.add(path)
            if depth >= max_depth:
                continue
            fetched.append(path)
            page = self.pages.get(path)
            if page is None or page.status != 200:
                continue
            for link in page.links:
                if self.allowed(link) and link not in seen:
                    seen.add(link)
                    queue.append((link, depth + 1))
        return Discovery(fetched=tuple(fetched), paths=tuple(sorted(known)))

    def robots_txt(self, base_url: str) -> str:
        """The text of ``/<slug>/robots.txt``."""
        rules = "".join(f"Disallow: {prefix}\n" for prefix in self.disallowed)
        return f"User-agent: *\n{rules}Sitemap: {base_url}{self.root}sitemap.xml\n"

    def sitemap_xml(self, base_url: str) -> str:
        """The text of ``/<slug>/sitemap.xml``."""
        urls = "".join(f"  <url><loc>{escape(base_url + path)}</loc></url>\n" for path in self.sitemap)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{urls}</urlset>\n"
        )


def render_page(page: Page) -> str:
    """The HTML of one page."""
    links = "".join(f'<li><a href="{escape(link)}">{escape(link)}</a></li>' for link in page.links)
    text = "".join(f"<p>{escape(paragraph)}</p>" for paragraph in page.paragraphs)
    return (
        f"<!doctype html><html><head><title>{escape(page.title)}</title></head>"
        f"<body><h1>{escape(page.title)}</h1>{text}<ul>{links}</ul></body></html>"
    )


@dataclass(frozen=True)
class DemoSite:
    """All the companies' sites of one demo run."""

    seed: int
    sites: tuple[CompanySite, ...]

    def site(self, slug: str) -> CompanySite:
        """The site of the company with this slug."""
        for site in self.sites:
            if site.company.slug == slug:
                return site
        raise KeyError(slug)


def generate_site(seed: int, companies: int, pages: int) -> DemoSite:
    """Build the demo's sites; the same arguments always give the same sites.

    Args:
        seed: the seed of every random choice.
        companies: how many companies (at least 1).
        pages: real HTML pages per company (at least ``MIN_PAGES``).

    Returns:
        The generated sites.

    Raises:
        ValueError: ``companies`` or ``pages`` is too small.
    """
    if companies < 1:
        raise ValueError(f"companies must be at least 1, got {companies}")
    if pages < MIN_PAGES:
        raise ValueError(f"pages must be at least {MIN_PAGES}, got {pages}")
    return DemoSite(seed, tuple(_generate_company_site(seed, index, pages) for index in range(companies)))


def _generate_company(rng: random.Random, index: int) -> Company:
    name, industry = _COMPANIES[index % len(_COMPANIES)]
    if index >= len(_COMPANIES):
        name = f"{name} {index // len(_COMPANIES) + 1}"
    products = tuple(
        f"{adjective} {noun}"
        for adjective, noun in zip(rng.sample(_ADJECTIVES, 5), rng.sample(_NOUNS, 5), strict=True)
    )[: rng.randint(3, 5)]
    return Company(
        name=name,
        slug=name.lower().replace(" ", "-"),
        industry=industry,
        founded=rng.randint(1950, 2020),
        headquarters=rng.choice(_CITIES),
        employees=rng.randint(12, 48000),
        products=products,
    )


def _generate_company_site(seed: int, index: int, pages: int) -> CompanySite:
    rng = random.Random(f"mpprogress-demo:{seed}:{index}")
    company = _generate_company(rng, index)
    root = f"/{company.slug}/"
    hubs = {section: f"{root}{section}/" for section in SECTIONS}
    specials = [f"{root}{name}" for name in SPECIAL_PAGES]
    leaves: dict[str, list[str]] = {section: [] for section in SECTIONS}
    leaves["products"] = [f"{root}products/{_slug(product)}.html" for product in company.products]
    for number in range(pages - 1 - len(hubs) - len(specials) - len(company.products)):
        section = rng.choices(_LEAF_SECTIONS, _LEAF_WEIGHTS)[0]
        leaves[section].append(f"{root}{section}/{section}-{number + 1}.html")
    # Removed pages still linked from their hub; one is always a product, ranked high by the scorer.
    dead: dict[str, list[str]] = {section: [] for section in SECTIONS}
    dead["products"].append(f"{root}products/legacy-{_slug(rng.choice(_NOUNS))}.html")
    for number in range(max(0, pages // 30 - 1)):
        section = rng.choice(_LEAF_SECTIONS)
        dead[section].append(f"{root}{section}/{section}-removed-{number + 1}.html")
    all_leaves = [path for section in SECTIONS for path in leaves[section]]

    def page(path: str, title: str, links: list[str], paragraphs: list[str], *, fragile: bool) -> Page:
        roll = rng.random()
        slow = rng.random() < 0.12
        return Page(
            path=path,
            title=title,
            status=500 if fragile and roll < 0.06 else 200,
            flaky=fragile and 0.06 <= roll < 0.12,
            latency=rng.uniform(0.04, 0.12) if slow else rng.uniform(0.003, 0.02),
            links=tuple(links),
            paragraphs=tuple(paragraphs),
        )

    built = [page(root, f"{company.name} - Home", [*hubs.values(), *specials, f"{root}private/admin.html"],
                  [f"Welcome to {company.name}.", _filler(rng, company)], fragile=False)]
    for section, hub in hubs.items():
        built.append(page(hub, f"{company.name} - {section.title()}", [root, *leaves[section], *dead[section]],
                          [_filler(rng, company)], fragile=False))
    built.extend(page(path, f"{company.name} - {path.rsplit('/', 1)[1][:-5].title()}",
                      [root, *rng.sample(all_leaves, min(2, len(all_leaves)))],
                      _special_text(path, company, rng), fragile=False) for path in specials)
    for section in SECTIONS:
        for number, path in enumerate(leaves[section]):
            text = [f"Product: {company.products[number]}."] if section == "products" else []
            links = [root, hubs[section], *rng.sample(all_leaves, min(3, len(all_leaves)))]
            built.append(page(path, f"{company.name} - {section} {number + 1}", links,
                              [*text, _filler(rng, company), _filler(rng, company)], fragile=True))
    # contact.html is always flaky, so every run shows at least one retry.
    by_path = {p.path: p for p in built}
    by_path[f"{root}contact.html"] = replace(by_path[f"{root}contact.html"], flaky=True)
    sitemap = tuple(sorted(path for path in by_path if path == root or rng.random() < 0.7))
    return CompanySite(
        company=company,
        pages=by_path,
        sitemap=sitemap,
        disallowed=(f"{root}private/",),
        dead_links=tuple(path for section in SECTIONS for path in dead[section]),
    )


def _slug(text: str) -> str:
    return text.lower().replace(" ", "-")


def _filler(rng: random.Random, company: Company) -> str:
    words = rng.sample(_WORDS, 6)
    return f"Our {company.industry} {words[0]} help {words[1]} with {' '.join(words[2:])}."


def _special_text(path: str, company: Company, rng: random.Random) -> list[str]:
    if path.endswith("about.html"):
        return [
            f"{company.name} is a {company.industry} company founded in {company.founded} "
            f"and headquartered in {company.headquarters}.",
            _filler(rng, company),
        ]
    if path.endswith("team.html"):
        return [f"Today {company.employees:,} employees work at {company.name}.", _filler(rng, company)]
    if path.endswith("pricing.html"):
        return [f"Plans for {', '.join(company.products)}.", _filler(rng, company)]
    return [f"Write to hello@{company.slug}.example.", _filler(rng, company)]

