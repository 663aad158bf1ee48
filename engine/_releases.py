"""Released policy versions are immutable.

Each policy folder may hold a ``RELEASES`` file, one released version a line::

    # version  sha256  released
    1.0.0  dd9fca766fb1...  2026-11-25

Loading or checking a file whose version is listed there fails when its bytes
no longer hash to the recorded sha256: a released version is changed by
copying it to a new version (:func:`new_version`), never by editing it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ._errors import PolicyError, PolicyNotFound, Problem

__all__ = [
    "RELEASES_FILE",
    "NewVersion",
    "PolicyVersion",
    "Release",
    "ReleaseOutcome",
    "list_versions",
    "new_version",
    "next_version",
    "read_releases",
    "release",
    "release_problem",
]

RELEASES_FILE = "RELEASES"
_LINE = re.compile(r"^(\S+)\s+([0-9a-f]{64})(?:\s+(\S+))?\s*$")
_HEADER = (
    "# Released versions of this policy and the sha256 of their bytes.\n"
    "# Never edit a released file: `followup new-version NAME` copies it to a new version.\n"
    "# version  sha256  released\n"
)


@dataclass(frozen=True)
class Release:
    """One line of a RELEASES file."""

    version: str
    sha256: str
    date: str | None = None


def read_releases(folder: Path) -> dict[str, Release]:
    """The releases recorded in ``folder/RELEASES`` (empty when there is none).

    Lines that are not ``VERSION SHA256 [DATE]`` are ignored rather than fatal:
    a damaged lock must not hide the policies, and ``followup policies`` shows
    what is recorded.
    """
    try:
        text = (folder / RELEASES_FILE).read_text("utf-8")
    except OSError:
        return {}
    found: dict[str, Release] = {}
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if m and not line.lstrip().startswith("#"):
            found[m.group(1)] = Release(m.group(1), m.group(2), m.group(3))
    return found


def _semver() -> Any:
    from . import _policy

    return _policy


def release_problem(path: Path, data: bytes, file: str | None = None) -> Problem | None:
    """A problem when ``path`` is a released version whose bytes changed, else None."""
    rel = read_releases(path.parent).get(path.stem)
    if rel is None:
        return None
    digest = hashlib.sha256(data).hexdigest()
    if digest == rel.sha256:
        return None
    try:
        target = next_version(path.stem, "minor")
    except ValueError:
        target = "a new version"
    fix = (
        f"restore the released file, then copy it to {target} and edit the copy: "
        f"`followup new-version {path.absolute().parent.name} --minor`"
    )
    if (path.parent / f"{target}.yaml").exists():
        fix = (
            f"restore the released file, and make the change in {target}.yaml, which "
            "already exists (or in a later version)"
        )
    return Problem(
        "released-changed",
        f"version {path.stem} was released with sha256 {rel.sha256[:12]} but this file's "
        f"bytes now hash to {digest[:12]}; a released version never changes",
        "",
        file or str(path),
        1,
        1,
        fix,
    )


def next_version(version: str, part: str = "minor") -> str:
    """The next version after ``version``: part is "major", "minor" or "patch"."""
    major, minor, patch, *_ = _semver().semver_key(version)
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    if part == "patch":
        return f"{major}.{minor}.{patch + 1}"
    raise ValueError(f"part must be major, minor or patch, not {part!r}")


@dataclass(frozen=True)
class PolicyVersion:
    """One policy file found, with its release state.

    Attributes:
        status: "released" (recorded and unchanged), "changed" (recorded, but
            the bytes differ: loading it fails) or "draft" (not released).
    """

    name: str
    version: str
    path: Path
    sha256: str
    status: str
    released: str | None
    has_tests: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "path": str(self.path),
            "sha256": self.sha256,
            "status": self.status,
            "released": self.released,
            "tests": self.has_tests,
        }


def _tests_path(path: Path) -> Path:
    return path.with_name(path.stem + ".tests.yaml")


def list_versions(dirs: Iterable[Path]) -> list[PolicyVersion]:
    """Every policy version found in ``dirs`` (first folder wins), with hash and release state."""
    out: list[PolicyVersion] = []
    for ref in _semver().list_policy_files(dirs):
        digest = hashlib.sha256(ref.path.read_bytes()).hexdigest()
        rel = read_releases(ref.path.parent).get(ref.version)
        status = "draft" if rel is None else "released" if rel.sha256 == digest else "changed"
        out.append(
            PolicyVersion(
                ref.name,
                ref.version,
                ref.path,
                digest,
                status,
                rel.date if rel else None,
                _tests_path(ref.path).is_file(),
            )
        )
    return out


def _versions_of(name: str, dirs: Iterable[Path]) -> list[PolicyVersion]:
    found = [v for v in list_versions(dirs) if v.name == name]
    if not found:
        raise PolicyNotFound(f"no policy named '{name}'")
    return found


@dataclass(frozen=True)
class NewVersion:
    name: str
    source: Path
    target: Path
    version: str
    tests: Path | None


def new_version(
    name: str, part: str = "minor", dirs: Iterable[Path] = (), today: date | None = None
) -> NewVersion:
    """Copy the latest released version of ``name`` to the next version (a draft).

    The copy gets the new version number and a changelog entry to fill in;
    its test file, when there is one, is copied too.

    Raises:
        PolicyNotFound: no such policy, or no released version of it.
        PolicyError: the target version already exists.
    """
    versions = _versions_of(name, list(dirs))
    released = [v for v in versions if v.status == "released"]
    if not released:
        raise PolicyNotFound(
            f"policy '{name}' has no released version to copy; release one first: "
            f"`followup release {name} {versions[-1].version}`"
        )
    src = released[-1]
    target_version = next_version(src.version, part)
    if any(v.version == target_version for v in versions):
        existing = next(v for v in versions if v.version == target_version)
        raise PolicyError(
            [
                Problem(
                    "version-exists",
                    f"version {target_version} of '{name}' already exists ({existing.status})",
                    "",
                    str(existing.path),
                    suggestion="edit that draft, or choose --major/--patch",
                )
            ]
        )
    target = src.path.with_name(f"{target_version}.yaml")
    text = src.path.read_text("utf-8")
    target.write_text(
        _rewrite(text, src.version, target_version, (today or date.today()).isoformat()), "utf-8"
    )
    tests: Path | None = None
    if _tests_path(src.path).is_file():
        tests = _tests_path(target)
        tests.write_bytes(_tests_path(src.path).read_bytes())
    return NewVersion(name, src.path, target, target_version, tests)


def _rewrite(text: str, old: str, new: str, today: str) -> str:
    """Set ``policy.version`` and add a changelog stub, keeping every comment and line."""
    from ._yaml import load_yaml

    doc = load_yaml(text)
    lines = text.splitlines(keepends=True)
    pos = doc.positions.of("/policy/version")
    if pos is None:  # pragma: no cover - a released policy always has a version
        raise ValueError("the policy has no version")
    line, col = pos[0] - 1, pos[1] - 1
    head, tail = lines[line][:col], lines[line][col:]
    tail = re.sub(r"^([\"']?)" + re.escape(old) + r"\1", lambda m: f'"{new}"', tail, count=1)
    lines[line] = head + tail
    stub_items = [
        f'- version: "{new}"',
        f'  date: "{today}"',
        "  changes:",
        '    - "TODO: say what changed and why, citing the guidance."',
    ]
    first = doc.positions.of("/policy/changelog/0")
    if first is not None:
        indent = " " * (first[1] - 3)
        stub = "".join(f"{indent}{s}\n" for s in stub_items)
        lines.insert(first[0] - 1, stub)
    else:
        indent = head[: len(head) - len(head.lstrip())]
        stub = f"{indent}changelog:\n" + "".join(f"{indent}  {s}\n" for s in stub_items)
        lines.insert(line + 1, stub)
    return "".join(lines)


@dataclass
class ReleaseOutcome:
    """What ``release`` found: problems and failed test cases block the release."""

    name: str
    version: str
    path: Path
    sha256: str = ""
    problems: list[Problem] = field(default_factory=list)
    failed_cases: list[str] = field(default_factory=list)
    #: the failed cases' results (``CaseResult``): what each expected and got
    failed_results: list[Any] = field(default_factory=list)
    tests_path: Path | None = None
    cases: int = 0
    released: bool = False


def _changelog_unready(path: Path) -> list[Problem]:
    """What keeps a valid policy's changelog from being released (see
    ``changelog_problems``)."""
    from ._yaml import load_yaml

    doc = load_yaml(path.read_bytes(), str(path))
    meta = doc.data["policy"]
    problems = _semver().changelog_problems(meta, str(path), doc.positions.of, releasing=True)
    return [p for p in problems if p.code in ("changelog-todo", "changelog-missing-version")]


def release(
    name: str, version: str, dirs: Iterable[Path] = (), today: date | None = None
) -> ReleaseOutcome:
    """Check a draft and run its tests; when all pass, record its sha256 in RELEASES.

    Raises:
        PolicyNotFound: no such policy or version.
        PolicyError: the version is already released.
    """
    from ._testing import load_tests, run_tests

    versions = _versions_of(name, list(dirs))
    match = [v for v in versions if v.version == version]
    if not match:
        raise PolicyNotFound(
            f"policy '{name}' has no version {version} "
            f"(versions: {', '.join(v.version for v in versions)})"
        )
    v = match[0]
    if v.status != "draft":
        raise PolicyError(
            [
                Problem(
                    "already-released",
                    f"version {version} of '{name}' is already released",
                    "",
                    str(v.path),
                    suggestion=f"start the next one: `followup new-version {name}`",
                )
            ]
        )
    outcome = ReleaseOutcome(name, version, v.path, v.sha256)
    outcome.problems = _semver().check_policy_file(v.path) or _changelog_unready(v.path)
    tests_path = _tests_path(v.path)
    if not tests_path.is_file():
        outcome.problems.append(
            Problem(
                "no-tests",
                f"version {version} has no test file",
                "",
                str(v.path),
                suggestion=f"write {tests_path.name} next to it (see docs/coach-guide.md)",
            )
        )
    if outcome.problems:
        return outcome
    try:
        tests = load_tests(tests_path)
    except PolicyError as exc:
        outcome.problems = list(exc.problems)
        return outcome
    policy = _semver().load_policy(v.path)
    results = run_tests(policy, tests)
    outcome.cases = len(results)
    outcome.failed_results = [r for r in results if not r.passed]
    outcome.failed_cases = [r.case.name for r in outcome.failed_results]
    outcome.tests_path = tests_path
    if outcome.failed_cases:
        return outcome
    lock = v.path.parent / RELEASES_FILE
    existing = lock.read_text("utf-8") if lock.is_file() else _HEADER
    if existing and not existing.endswith("\n"):
        existing += "\n"
    stamp = (today or date.today()).isoformat()
    lock.write_text(existing + f"{version}  {v.sha256}  {stamp}\n", "utf-8")
    outcome.released = True
    return outcome


def released_map(dirs: Iterable[Path]) -> Mapping[tuple[str, str], PolicyVersion]:
    """(name, version) -> version info, for tools that need the release state of many."""
    return {(v.name, v.version): v for v in list_versions(dirs)}
