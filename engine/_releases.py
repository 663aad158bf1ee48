"""Released policy versions are immutable.

Each policy folder may hold a ``RELEASES`` file, one released version a line::

    # policy: interview-follow-up
    # version  sha256  released
    1.0.0  dd9fca766fb1...  2026-11-25

(the ``# policy:`` line, written by :func:`release` from now on, says whose
releases they are, so that a copy in another policy's folder is known as one).

Loading or checking a file whose version is listed there fails when its bytes
no longer hash to the recorded sha256: a released version is changed by
copying it to a new version (:func:`new_version`), never by editing it. A new
policy starts as a copy of another one (:func:`new_policy`), without its
releases: a RELEASES file copied along with another policy's folder is
recognised and said to be so (:func:`releases_origin`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ._errors import FollowupError, PolicyError, PolicyNotFound, Problem

__all__ = [
    "MISNAMED_TESTS",
    "POLICY_NAME",
    "RELEASES_FILE",
    "InstalledFolder",
    "NewPolicy",
    "NewVersion",
    "NoFolderGiven",
    "NothingReleased",
    "PolicyVersion",
    "Release",
    "ReleaseOutcome",
    "command_for",
    "copied_releases_problem",
    "installed_folder",
    "list_versions",
    "misnamed_tests",
    "new_policy",
    "new_version",
    "next_version",
    "read_releases",
    "release",
    "release_problem",
    "releases_origin",
]

RELEASES_FILE = "RELEASES"
_LINE = re.compile(r"^(\S+)\s+([0-9a-f]{64})(?:\s+(\S+))?\s*$")
#: the comment line of a RELEASES file that names the policy whose releases it records
_OWNER = re.compile(r"^#\s*policy:\s*(\S+)\s*$")
#: what a policy's name may be (policy.schema.json: /properties/policy/properties/name)
POLICY_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
#: endings of test files that are not read, and the one they should have
MISNAMED_TESTS = (".tests.yml", ".test.yaml", ".test.yml")


def _header(name: str) -> str:
    return (
        "# Released versions of this policy and the sha256 of their bytes.\n"
        "# Never edit a released file: `followup new-version NAME` copies it to a new version.\n"
        f"# policy: {name}\n"
        "# version  sha256  released\n"
    )


class NoFolderGiven(FollowupError):
    """A new version would be written among the policies installed with followup:
    the caller must say which folder of its own to write it in.

    Attributes:
        source: the released file the new version would be copied from.
    """

    def __init__(self, name: str, source: Path) -> None:
        super().__init__(
            f"the latest release of '{name}' ({source}) is installed with followup; "
            "say which folder of your own the new version goes in"
        )
        self.source = source


class InstalledFolder(FollowupError):
    """A folder to write in lies inside the installed package (the policies
    installed with followup, or the package itself): it is never written.

    Attributes:
        folder: the folder that was given.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(
            f"{folder} is inside followup's installed package ({_semver().bundled_policies_dir()}), "
            "which is never written: choose a folder of your own"
        )
        self.folder = folder


class NothingReleased(PolicyNotFound):
    """A new version was asked of a policy none of whose versions is released.

    Attributes:
        name, version, path: the policy, and its latest draft (to release first).
        todo: whether that draft's changelog still says TODO (or lacks its entry).
    """

    def __init__(self, name: str, version: str, path: Path, todo: bool) -> None:
        first = (
            f"replace the TODO in its changelog ({path}) with what you changed, then "
            if todo
            else ""
        )
        super().__init__(
            f"policy '{name}' has no released version to copy; release one first: {first}"
            f"`{command_for(_root_of(path), f'release {name} {version}')}`"
        )
        self.name, self.version, self.path, self.todo = name, version, path, todo


def _package_dirs() -> list[Path]:
    """The folders followup is installed in: its bundled policies and its package."""
    from importlib import resources

    return [_semver().bundled_policies_dir(), Path(str(resources.files("followup")))]


def installed_folder(folder: Path) -> bool:
    """Whether ``folder`` (symlinks resolved) lies inside the installed package."""
    where = folder.resolve()
    return any(where.is_relative_to(d.resolve()) for d in _package_dirs())


def _refuse_installed(folder: Path) -> None:
    if installed_folder(folder):
        raise InstalledFolder(folder)


def _root_of(path: Path) -> Path:
    """The folder of policies a policy file is in (``<root>/<name>/<version>.yaml``)."""
    if path.parent.name in ("", ".", ".."):
        return path.absolute().parent.parent
    return path.parent.parent


def command_for(root: Path, words: str) -> str:
    """``followup WORDS`` for a policy in the folder of policies ``root``, with
    ``--policies-dir ROOT`` unless followup searches it anyway (installed with
    it, or named by $FOLLOWUP_POLICIES)."""
    searched = [*_semver().env_policy_dirs(), _semver().bundled_policies_dir()]
    try:
        if any(root.resolve() == d.resolve() for d in searched):
            return f"followup {words}"
    except OSError:  # pragma: no cover - a folder that cannot be resolved
        pass
    return f"followup --policies-dir {root} {words}"


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
    copied = copied_releases_problem(path, file)
    if copied is not None:
        return copied
    digest = hashlib.sha256(data).hexdigest()
    if digest == rel.sha256:
        return None
    try:
        target = next_version(path.stem, "minor")
    except ValueError:
        target = "a new version"
    fix = (
        f"restore the released file, then copy it to {target} and edit the copy: "
        f"`{command_for(_root_of(path), f'new-version {path.absolute().parent.name} --minor')}`"
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


def releases_origin(folder: Path) -> str | None:
    """The policy whose releases ``folder/RELEASES`` records, when it is not the
    folder's own: the RELEASES file was copied along with another policy's folder.

    Known by the policy the file names (``# policy: NAME``, written by
    :func:`release`), or else by a recorded sha256 that another policy's RELEASES
    records too (in the folders next to this one, or among the bundled policies).
    None when the RELEASES is the folder's own, or there is none.
    """
    try:
        text = (folder / RELEASES_FILE).read_text("utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        owner = _OWNER.match(line.strip())
        if owner:
            return owner.group(1) if owner.group(1) != folder.name else None
    digests = {r.sha256 for r in read_releases(folder).values()}
    if not digests:
        return None
    for other in _other_policy_folders(folder):
        if any(r.sha256 in digests for r in read_releases(other).values()):
            return other.name
    return None


def _other_policy_folders(folder: Path) -> list[Path]:
    """The policy folders next to ``folder`` and the bundled ones, under other names."""
    found: list[Path] = []
    for root in (folder.parent, _semver().bundled_policies_dir()):
        try:
            found += sorted(d for d in root.iterdir() if d.is_dir() and d.name != folder.name)
        except OSError:
            continue
    return found


def copied_releases_problem(path: Path, file: str | None = None) -> Problem | None:
    """A problem when the RELEASES next to ``path`` records another policy's releases."""
    folder = path.absolute().parent
    origin = releases_origin(folder)
    if origin is None:
        return None
    name = folder.name
    return Problem(
        "releases-copied",
        f"this folder's RELEASES was copied from {origin}: it records the releases of "
        f"{origin}, not of {name}",
        "",
        file or str(path),
        1,
        1,
        f"delete {path.parent / RELEASES_FILE} to start {name}'s own history: your files "
        "stay as they are, drafts until you release them",
    )


def _refuse_copied(versions: Iterable[PolicyVersion]) -> None:
    """Stop with the way out when a policy's RELEASES was copied from another policy."""
    for v in versions:
        problem = copied_releases_problem(v.path)
        if problem is not None:
            raise PolicyError([problem])


def misnamed_tests(policy_path: Path) -> Path | None:
    """A test file next to a policy version that is never read because of its
    name (``1.0.0.tests.yml``, ``1.0.0.test.yaml``), or None."""
    for ending in MISNAMED_TESTS:
        candidate = policy_path.with_name(policy_path.stem + ending)
        if candidate.is_file():
            return candidate
    return None


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
    #: the policy whose RELEASES this folder's was copied from, when it was (see
    #: :func:`releases_origin`): then its status says nothing of this policy
    copied_from: str | None = None

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
    origins: dict[Path, str | None] = {}
    for ref in _semver().list_policy_files(dirs):
        digest = hashlib.sha256(ref.path.read_bytes()).hexdigest()
        rel = read_releases(ref.path.parent).get(ref.version)
        status = "draft" if rel is None else "released" if rel.sha256 == digest else "changed"
        if ref.path.parent not in origins:
            origins[ref.path.parent] = releases_origin(ref.path.absolute().parent)
        out.append(
            PolicyVersion(
                ref.name,
                ref.version,
                ref.path,
                digest,
                status,
                rel.date if rel else None,
                _tests_path(ref.path).is_file(),
                origins[ref.path.parent],
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
    """What :func:`new_version` wrote.

    Attributes:
        copied: files brought into the new version's folder so that it holds
            the release the new version starts from (its file, its tests and
            RELEASES), when that release lived in another folder.
    """

    name: str
    source: Path
    target: Path
    version: str
    tests: Path | None
    copied: tuple[Path, ...] = ()


def new_version(
    name: str,
    part: str = "minor",
    dirs: Iterable[Path] = (),
    today: date | None = None,
    *,
    into: Path | None = None,
    fallback: Path | None = None,
) -> NewVersion:
    """Copy the latest released version of ``name`` to the next version (a draft).

    The copy gets the new version number and a changelog entry to fill in;
    its test file, when there is one, is copied too.

    Args:
        into: the folder of policies to write in (``<into>/<name>/``); default:
            next to the released file, or ``fallback`` when that file is one of
            the policies installed with followup.
        fallback: where to write when the release is installed with followup
            and ``into`` is not given. A release in another folder than the new
            version's is copied there with its tests and RELEASES, so that the
            folder holds the whole policy and ``release`` records it there.

    Raises:
        PolicyNotFound: no such policy, or no released version of it.
        PolicyError: the target version already exists, or the policy's
            RELEASES was copied from another policy.
        NoFolderGiven: the release is installed with followup and neither
            ``into`` nor ``fallback`` is given.
    """
    versions = _versions_of(name, list(dirs))
    _refuse_copied(versions)
    released = [v for v in versions if v.status == "released"]
    if not released:
        changed = [v for v in versions if v.status == "changed"]
        if changed:  # recorded, but its bytes changed: restoring it is the way out
            problem = release_problem(changed[-1].path, changed[-1].path.read_bytes())
            if problem is not None:
                raise PolicyError([problem])
        latest = versions[-1]
        raise NothingReleased(name, latest.version, latest.path, _says_todo(latest.path))
    src = released[-1]
    target_version = next_version(src.version, part)
    if any(v.version == target_version for v in versions):
        existing = next(v for v in versions if v.version == target_version)
        raise PolicyError([_version_exists(name, target_version, existing.path, existing.status)])
    if into is None and _bundled(src.path):
        if fallback is None:
            raise NoFolderGiven(name, src.path)
        into = fallback
    folder = src.path.parent if into is None else into / name
    _refuse_installed(folder)
    target = folder / f"{target_version}.yaml"
    if target.exists():  # in a folder that is not searched
        raise PolicyError([_version_exists(name, target_version, target, "a file")])
    copied = () if _same(folder, src.path.parent) else _bring(src, folder)
    text = src.path.read_text("utf-8")
    stamp = (today or date.today()).isoformat()
    moved = bool(copied)  # elsewhere: a schema path relative to the release leads nowhere
    draft = _bumped_head(
        _rewrite(text, src.version, target_version, stamp), name, src.version, target_version
    )
    target.write_text(_no_modeline(draft, "policy") if moved else draft, "utf-8")
    tests: Path | None = None
    if _tests_path(src.path).is_file():
        tests = _tests_path(target)
        cases = _bumped_head(
            _tests_path(src.path).read_text("utf-8"), name, src.version, target_version
        )
        tests.write_text(_no_modeline(cases, "tests") if moved else cases, "utf-8")
    return NewVersion(name, src.path, target, target_version, tests, copied)


def _version_exists(name: str, version: str, path: Path, status: str) -> Problem:
    return Problem(
        "version-exists",
        f"version {version} of '{name}' already exists ({status})",
        "",
        str(path),
        suggestion="edit that draft, or choose --major/--patch",
    )


def _says_todo(path: Path) -> bool:
    """Whether a draft's changelog still says TODO or lacks its entry (False when
    the file cannot be read as a policy: its problems are said elsewhere)."""
    try:
        return bool(_changelog_unready(path))
    except Exception:  # any unreadable draft: nothing to add
        return False


def _bundled(path: Path) -> bool:
    """Whether a file is one of the policies installed with followup."""
    return path.resolve().is_relative_to(_semver().bundled_policies_dir().resolve())


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _bring(src: PolicyVersion, folder: Path) -> tuple[Path, ...]:
    """Copy a released version, its tests and its RELEASES line into ``folder``
    (what is not there already), so that the folder holds the whole policy."""
    folder.mkdir(parents=True, exist_ok=True)
    copied: list[Path] = []
    released = folder / src.path.name
    data = src.path.read_bytes()
    if released.exists():
        if released.read_bytes() != data:
            raise PolicyError(
                [
                    Problem(
                        "version-exists",
                        f"{released} exists and differs from the release it would be a copy "
                        f"of ({src.path})",
                        "",
                        str(released),
                        suggestion="choose another folder, or move that file away",
                    )
                ]
            )
    else:
        released.write_bytes(data)
        copied.append(released)
    tests = _tests_path(src.path)
    if tests.is_file() and not _tests_path(released).exists():
        _tests_path(released).write_bytes(tests.read_bytes())
        copied.append(_tests_path(released))
    record = read_releases(src.path.parent)[src.version]
    line = f"{record.version}  {record.sha256}" + (f"  {record.date}" if record.date else "")
    lock = folder / RELEASES_FILE
    if not lock.exists():
        lock.write_text(_header(src.name) + line + "\n", "utf-8")
        copied.append(lock)
    elif src.version not in read_releases(folder):
        existing = lock.read_text("utf-8")
        lock.write_text(existing + ("" if existing.endswith("\n") else "\n") + line + "\n", "utf-8")
        copied.append(lock)
    return tuple(copied)


@dataclass(frozen=True)
class NewPolicy:
    """What :func:`new_policy` wrote: ``target`` (version 1.0.0 of ``name``, a
    draft) and its tests, copied from ``source`` (``source_name`` at
    ``source_version``)."""

    name: str
    target: Path
    tests: Path | None
    source: Path
    source_name: str
    source_version: str


FIRST_VERSION = "1.0.0"


def new_policy(
    name: str, source: str, dirs: Iterable[Path], into: Path, today: date | None = None
) -> NewPolicy:
    """Start a new policy ``name`` as a copy of another: ``<into>/<name>/1.0.0.yaml``.

    The copy is a draft: its name is ``name``, its version 1.0.0, and its
    changelog one entry saying where it came from, with a TODO to replace by
    what was changed. The source's tests are copied too, their ``policy:``
    pointed at the copy. No RELEASES: the new policy has its own history.

    Args:
        source: NAME, NAME@VERSION (default version: the highest released) or
            the path of a policy file.
        into: the folder of policies to create it in.

    Raises:
        ValueError: ``name`` is not a policy name (kebab-case).
        PolicyNotFound: the source cannot be found.
        PolicyError: the source is not a valid policy, or ``name`` exists.
    """
    if not POLICY_NAME.match(name):
        raise ValueError(f"'{name}' is not a policy name: lower-case words joined by -")
    dirs = list(dirs)
    folder = into / name
    _refuse_installed(folder)
    existing = [v for v in list_versions(dirs) if v.name == name]
    if not existing and folder.is_dir():
        existing = [v for v in list_versions([into]) if v.name == name]
    if existing or (folder.is_dir() and any(folder.iterdir())):
        where = existing[-1].path.parent if existing else folder
        raise PolicyError(
            [
                Problem(
                    "policy-exists",
                    f"there is already a policy named '{name}' ({where})",
                    "",
                    str(where),
                    suggestion=_exists_way_out(name, where, existing),
                )
            ]
        )
    _refuse_not_a_policy(source)
    policy = _semver().load_policy(source, policies_dir=dirs)
    path = policy.path
    text = path.read_text("utf-8")
    stamp = (today or date.today()).isoformat()
    origin = f"{policy.name} {policy.version} (sha256 {policy.sha256[:12]})"
    written = _fresh_head(
        _as_new_policy(text, policy.name, name, stamp, origin),
        [
            f"# {name}: started from {origin} with `followup new-policy` on {stamp}.",
            _SCHEMA_NOTE.format(kind="policy"),
        ],
    )
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{FIRST_VERSION}.yaml"
    target.write_text(written, "utf-8")
    tests: Path | None = None
    if _tests_path(path).is_file():
        tests = _tests_path(target)
        tests.write_text(
            _no_modeline(
                _tests_for_new_policy(
                    _tests_path(path).read_text("utf-8"), path, policy.name, policy.version, name
                ),
                "tests",
            ),
            "utf-8",
        )
    return NewPolicy(name, target, tests, path, policy.name, policy.version)


#: in place of a ``yaml-language-server`` line whose relative schema path no longer leads anywhere
_SCHEMA_NOTE = (
    "# For checks while you type: `followup schema {kind} > {kind}.schema.json` "
    "(see docs/editors.md)."
)
_MODELINE = re.compile(r"^#\s*yaml-language-server:\s*\$schema=(?!https?:)\S*\s*$")


def _leading_comments(lines: list[str]) -> int:
    """How many lines the comment block at the top of a file holds (blank lines included)."""
    i = 0
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
        i += 1
    return i


def _fresh_head(text: str, head: list[str]) -> str:
    """``text`` with its leading comment block (which described the policy it was
    copied from) replaced by ``head``."""
    lines = text.splitlines(keepends=True)
    return "".join(f"{h}\n" for h in head) + "".join(lines[_leading_comments(lines) :])


def _no_modeline(text: str, kind: str) -> str:
    """A copied file's ``yaml-language-server`` line, which points at the schema by
    a path relative to where the file was, replaced by how to get the schema."""
    lines = text.splitlines(keepends=True)
    for i in range(_leading_comments(lines)):
        if _MODELINE.match(lines[i].strip()):
            lines[i] = _SCHEMA_NOTE.format(kind=kind) + "\n"
    return "".join(lines)


def _bumped_head(text: str, name: str, old: str, new: str) -> str:
    """``text`` with ``NAME OLD`` / ``NAME@OLD`` in its leading comment block naming
    the new version."""
    lines = text.splitlines(keepends=True)
    said = re.compile(rf"(?<![\w-]){re.escape(name)}([ @]){re.escape(old)}(?![\w-]|\.\w)")
    for i in range(_leading_comments(lines)):
        lines[i] = said.sub(lambda m: f"{name}{m.group(1)}{new}", lines[i])
    return "".join(lines)


def _exists_way_out(name: str, where: Path, versions: list[PolicyVersion]) -> str:
    """What to do when a new policy's name is taken: each way leads somewhere."""
    other = "choose another name"
    if not versions:
        return f"{other}, or another folder (--into), or move {where} away"
    copied = next((v for v in versions if v.copied_from), None)
    if copied is not None:
        return (
            f"{other}; {where} holds a RELEASES copied from {copied.copied_from}: delete "
            f"{where / RELEASES_FILE} to make it {name}'s own, or remove {where} and run "
            "this command again"
        )
    released = [v for v in versions if v.status == "released"]
    if released:
        words = f"new-version {name}"
        return (
            f"{other}; to change {name}, start its next version with "
            f"`{command_for(_root_of(released[-1].path), words)}`"
        )
    draft = versions[-1]
    return f"{other}; {name} is not released yet: edit its draft {draft.path}"


#: what a file given as a policy holds instead, known by its top-level keys
_FACT_KEYS = ("interview_at", "applicant_id", "stage", "industry", "last_contact_at")


def _refuse_not_a_policy(source: str) -> None:
    """Stop with plain words when the file to start from is a facts or test file."""
    path = Path(source)
    if not (source.endswith((".yaml", ".yml", ".json")) or os.sep in source or "/" in source):
        return
    if not path.is_file():
        return
    from ._yaml import load_yaml

    try:
        data = load_yaml(path.read_bytes(), source).data
    except Exception:  # unreadable: loading it says why
        return
    if not isinstance(data, dict) or "policy" in data or "rules" in data:
        return
    if "cases" in data:
        what = "a test file"
    elif any(k in data for k in _FACT_KEYS):
        what = "a facts file"
    else:
        return
    raise PolicyNotFound(
        f"{source} is {what}, not a policy: --from takes a policy (NAME, NAME@VERSION or its file)"
    )


def _as_new_policy(text: str, old: str, new: str, today: str, origin: str) -> str:
    """A policy's text renamed to ``new`` at version 1.0.0 with one changelog entry
    saying where it came from; every other line and comment kept as written."""
    from ._yaml import load_yaml

    doc = load_yaml(text)
    lines = text.splitlines(keepends=True)
    for pointer, value in (("/policy/name", new), ("/policy/version", f'"{FIRST_VERSION}"')):
        pos = doc.positions.of(pointer)
        if pos is None:  # pragma: no cover - a valid policy has both
            return _dumped(doc.data, new, today, origin)
        line, col = pos[0] - 1, pos[1] - 1
        written = doc.data["policy"][pointer.rsplit("/", 1)[1]]
        tail = lines[line][col:]
        found = re.match(r"^([\"']?)" + re.escape(str(written)) + r"\1", tail)
        if found is None:  # pragma: no cover - the value is where its position says
            return _dumped(doc.data, new, today, origin)
        tail = value + tail[found.end() :]
        lines[line] = lines[line][:col] + tail
    key = doc.positions.of("/policy/changelog", key=True)
    if key is None:  # pragma: no cover - the schema requires a changelog
        return _dumped(doc.data, new, today, origin)
    first, indent = key[0] - 1, key[1] - 1
    end = first + 1
    while end < len(lines) and (
        not lines[end].strip()
        or _indent(lines[end]) > indent
        or (_indent(lines[end]) == indent and lines[end].lstrip(" ").startswith("- "))
    ):
        end += 1
    while end - 1 > first and not lines[end - 1].strip():
        end -= 1  # blank lines after the changelog stay
    pad = " " * indent
    entry = _first_entry(today, origin)
    lines[first:end] = [lines[first][:indent] + "changelog:\n"] + [
        f"{pad}  {item}\n" for item in entry
    ]
    result = "".join(lines)
    check = load_yaml(result)
    expected = dict(doc.data)
    expected["policy"] = _renamed_meta(doc.data["policy"], new, today, origin)
    if check.problems or check.data != expected:  # a layout these edits do not fit
        return _dumped(doc.data, new, today, origin)
    return result


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _first_entry(today: str, origin: str) -> list[str]:
    return [
        f'- version: "{FIRST_VERSION}"',
        f'  date: "{today}"',
        "  changes:",
        f'    - "Started from {origin}."',
        '    - "TODO: say what you changed and why, citing the guidance."',
    ]


def _renamed_meta(meta: Mapping[str, Any], new: str, today: str, origin: str) -> dict[str, Any]:
    renamed = dict(meta)
    renamed.update(name=new, version=FIRST_VERSION)
    renamed["changelog"] = [
        {
            "version": FIRST_VERSION,
            "date": today,
            "changes": [
                f"Started from {origin}.",
                "TODO: say what you changed and why, citing the guidance.",
            ],
        }
    ]
    return renamed


def _dumped(data: Mapping[str, Any], new: str, today: str, origin: str) -> str:
    """The policy written anew (its comments are lost): for layouts the line edits
    of ``_as_new_policy`` do not fit, such as a ``policy:`` written in flow style."""
    import yaml

    doc = dict(data)
    doc["policy"] = _renamed_meta(data["policy"], new, today, origin)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def _tests_for_new_policy(text: str, source: Path, old: str, version: str, new: str) -> str:
    """A policy's tests, adapted to the new policy: a ``policy:`` naming the old
    one names the new one, and so do the comments."""
    from ._yaml import load_yaml

    doc = load_yaml(text)
    lines = text.splitlines(keepends=True)
    ref = doc.data.get("policy") if isinstance(doc.data, dict) else None
    pos = doc.positions.of("/policy") if isinstance(ref, str) else None
    if isinstance(ref, str) and pos is not None:
        ref_name, at, _ = ref.partition("@")
        if ref.endswith((".yaml", ".yml")):
            same = _same(source.parent / ref, source)
            wanted = f"{FIRST_VERSION}.yaml" if same else ref
        else:
            wanted = (new + (f"@{FIRST_VERSION}" if at else "")) if ref_name == old else ref
        line, col = pos[0] - 1, pos[1] - 1
        tail = re.sub(
            r"^([\"']?)" + re.escape(ref) + r"\1",
            lambda m: m.group(1) + wanted + m.group(1),
            lines[line][col:],
            count=1,
        )
        lines[line] = lines[line][:col] + tail
    word = re.compile(rf"(?<![\w-]){re.escape(old)}(?:(@| ){re.escape(version)})?(?![\w-])")
    for i, comment in enumerate(lines):
        if comment.lstrip().startswith("#"):
            lines[i] = word.sub(
                lambda m: new + (m.group(1) + FIRST_VERSION if m.group(1) else ""), comment
            )
    return "".join(lines)


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
    _refuse_copied(versions)
    if v.status == "changed":  # recorded, but its bytes changed: restoring it is the way out
        problem = release_problem(v.path, v.path.read_bytes())
        if problem is not None:
            raise PolicyError([problem])
    if v.status != "draft":
        raise PolicyError(
            [
                Problem(
                    "already-released",
                    f"version {version} of '{name}' is already released",
                    "",
                    str(v.path),
                    suggestion="start the next one: "
                    f"`{command_for(_root_of(v.path), f'new-version {name}')}`",
                )
            ]
        )
    outcome = ReleaseOutcome(name, version, v.path, v.sha256)
    outcome.problems = _semver().check_policy_file(v.path) or _changelog_unready(v.path)
    tests_path = _tests_path(v.path)
    if not tests_path.is_file():
        misnamed = misnamed_tests(v.path)
        outcome.problems.append(
            Problem(
                "no-tests",
                f"version {version} has no test file"
                + (f": {misnamed.name} is not read, for its name" if misnamed else ""),
                "",
                str(v.path),
                suggestion=f"rename {misnamed.name} to {tests_path.name}"
                if misnamed
                else f"write {tests_path.name} next to it: cases, each with facts, as_of and "
                "what the decision must hold (`followup schema tests` gives the form; "
                "`followup new-policy` and `followup new-version` copy a policy's tests)",
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
    existing = lock.read_text("utf-8") if lock.is_file() else _header(name)
    if existing and not existing.endswith("\n"):
        existing += "\n"
    stamp = (today or date.today()).isoformat()
    lock.write_text(existing + f"{version}  {v.sha256}  {stamp}\n", "utf-8")
    outcome.released = True
    return outcome


def released_map(dirs: Iterable[Path]) -> Mapping[tuple[str, str], PolicyVersion]:
    """(name, version) -> version info, for tools that need the release state of many."""
    return {(v.name, v.version): v for v in list_versions(dirs)}
