"""Fail, printing the diff, when driftlock_generated/ is not what `make generate` would write.

Generates into a fresh temporary folder (``--overwrite`` would leave stray files behind) and
compares every file both ways, so hand edits, additions and deletions all show.
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "driftlock_generated"
IGNORED_PARTS = {"__pycache__", ".ruff_cache", ".mypy_cache"}


def _files(folder: Path) -> set[Path]:
    return {
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.is_file() and not IGNORED_PARTS.intersection(path.parts)
    }


def _generate(root: Path, into: Path) -> None:
    venv_bin = Path(sys.executable).parent
    command = [
        str(venv_bin / "openapi-python-client"),
        "generate",
        "--path",
        str(root / "openapi.yaml"),
        "--config",
        str(root / "generator-config.yaml"),
        "--meta",
        "none",
        "--output-path",
        str(into),
        "--fail-on-warning",
    ]
    # The post-hooks call `ruff` from PATH: it must be the venv's pinned one.
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        command, cwd=into.parent, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"check-generated: generation failed (exit {done.returncode})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="folder holding the spec, config and package"
    )
    root: Path = parser.parse_args(argv).root
    committed = root / PACKAGE
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / PACKAGE
        _generate(root, fresh)
        committed_files, fresh_files = _files(committed), _files(fresh)
        problems: list[str] = []
        for extra in sorted(committed_files - fresh_files):
            problems.append(f"only in {PACKAGE}/ (not generated): {extra}\n")
        for missing in sorted(fresh_files - committed_files):
            problems.append(f"missing from {PACKAGE}/ (generated): {missing}\n")
        for common in sorted(committed_files & fresh_files):
            ours = (committed / common).read_text().splitlines(keepends=True)
            theirs = (fresh / common).read_text().splitlines(keepends=True)
            problems.extend(
                difflib.unified_diff(
                    ours,
                    theirs,
                    f"{PACKAGE}/{common} (committed)",
                    f"{PACKAGE}/{common} (generated)",
                )
            )
    if problems:
        sys.stdout.writelines(problems)
        print(f"\n{PACKAGE}/ differs from openapi.yaml: run `make generate` and commit the result.")
        return 1
    print(f"{PACKAGE}/ matches openapi.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
