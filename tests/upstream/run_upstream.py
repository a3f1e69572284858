"""Run tqdm's own test suite and Rich's ``tests/test_progress.py`` against mpprogress's front ends.

    python tests/upstream/run_upstream.py [tqdm] [rich] [--strict]

- **tqdm**: the sdist of the installed tqdm version (``pip download --no-binary :all: --no-deps
  tqdm==X``), its ``tests/`` run with every class of the tqdm family patched (``plugin_tqdm``),
  the timing tests (``-k "not perf"``, as tqdm's own tox run) left out.
- **rich**: Rich's sdist ships no tests, so ``rich_test_progress.py.txt`` (Rich's file, verbatim,
  see its header) is run with ``rich.progress.Progress`` and ``track`` replaced (``plugin_rich``).

Each run is compared with its expected-failure list (``tqdm_expected_failures.txt``,
``rich_expected_failures.txt``: one test id a line, two spaces, ``#`` and the reason): a failure not
on the list is run once more alone; if it fails again it is a regression and the exit status is
1 (one that passes alone is printed as flaky: a warning of a bar another test leaked can be
collected during any later test under ``-W error``).  A listed test that now passes is printed
(with ``--strict``, it fails the run too: take it off the list).  When the sdist cannot be
fetched (no network) or a needed plugin is missing, the run is skipped with a message, exit 0.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("MPPROGRESS_UPSTREAM_CACHE", Path(tempfile.gettempdir()) / "mpprogress-upstream"))


def expected(name: str) -> dict[str, str]:
    """The expected failures of a run: test id -> reason."""
    found = {}
    for line in (HERE / f"{name}_expected_failures.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        test_id, _, reason = line.partition("  # ")  # ids may hold "#" themselves: test_custom_bar[ #]
        if test_id.strip():
            found[test_id.strip()] = reason.strip()
    return found


def sdist(package: str) -> Path | None:
    """The unpacked sdist of the installed version of ``package``, fetched once into the cache."""
    version = importlib.metadata.version(package)
    target = CACHE / f"{package}-{version}"
    if target.is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as download:
        fetched = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "--quiet",
             f"{package}=={version}", "-d", download],
            capture_output=True, text=True, timeout=180,
        )
        archives = list(Path(download).glob("*.tar.gz"))
        if fetched.returncode != 0 or not archives:
            print(f"SKIPPED {package}: could not fetch its sdist: {fetched.stderr.strip()[-300:]}")
            return None
        with tarfile.open(archives[0]) as archive:
            archive.extractall(CACHE, filter="data")
    return target if target.is_dir() else None


def failed_tests(junit: Path, prefix: str) -> set[str]:
    """The ids (``file::name``) of the tests that failed or errored (setup and teardown included)."""
    failed = set()
    for case in ET.parse(junit).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            module = case.get("classname", "").rsplit(".", 1)[-1]
            failed.add(f"{prefix}{module}.py::{case.get('name')}")
    return failed


def run(name: str, args: list[str], cwd: Path, prefix: str, strict: bool) -> bool:
    """Run pytest with ``args`` in ``cwd``; compare its failures with the expected list."""
    junit = cwd / f"mpprogress-{name}.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=line", "-o", "addopts=",
         f"--junitxml={junit}", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )
    if not junit.exists():
        print(f"{name}: pytest did not run:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return False
    failed, wanted = failed_tests(junit, prefix), expected(name)
    total = sum(1 for _ in ET.parse(junit).iter("testcase"))
    unexpected = sorted(failed - set(wanted))
    if unexpected:  # once more alone: a warning from another test's bar collected late lands anywhere
        again = cwd / f"mpprogress-{name}-again.xml"
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=line", "-o", "addopts=",
             f"--junitxml={again}", *args[:-1], *unexpected],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
        )
        still = failed_tests(again, prefix) if again.exists() else set(unexpected)
        for test_id in sorted(set(unexpected) - still):
            print(f"  FLAKY (failed in the whole run, passed alone): {test_id}")
        unexpected = sorted(still & set(unexpected))
    now_pass = sorted(set(wanted) - failed)
    print(f"{name}: {total} tests, {len(failed)} failed, {len(failed & set(wanted))} of them expected")
    for test_id in unexpected:
        print(f"  REGRESSION (fails, not on the list): {test_id}")
    for test_id in now_pass:
        print(f"  passes now (take it off the list): {test_id}")
    if unexpected:
        print(result.stdout[-6000:])
    return not unexpected and not (strict and now_pass)


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    which = [a for a in argv if not a.startswith("-")] or ["tqdm", "rich"]
    ok = True
    if importlib.util.find_spec("pytest_asyncio") is None:
        print("SKIPPED tqdm: its asyncio tests need pytest-asyncio (pip install 'mpprogress[clients]')")
        which = [w for w in which if w != "tqdm"]
    if "tqdm" in which and importlib.util.find_spec("tqdm") is not None:
        source = sdist("tqdm")
        if source is not None:
            ok &= run("tqdm", ["-p", "plugin_tqdm", "-W", "error", "--asyncio-mode=strict", "-k", "not perf",
                               "tests"], source, "tests/", strict)
    if "rich" in which:
        with tempfile.TemporaryDirectory() as scratch:
            test_file = Path(scratch) / "test_progress.py"
            shutil.copy(HERE / "rich_test_progress.py.txt", test_file)
            ok &= run("rich", ["-p", "plugin_rich", "-p", "no:asyncio", "test_progress.py"], Path(scratch), "", strict)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
