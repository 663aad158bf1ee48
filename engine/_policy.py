"""Finding, loading and evaluating policies."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from mypy_extensions import mypyc_attr

from ._agenda import TRACE_MODES, run
from ._compiler import CompiledPolicy, compile_policy
from ._conditions import jsonable
from ._decision import Decision
from ._errors import FactsError, PolicyError, PolicyNotFound, Problem, show_value
from ._facts import normalize_facts
from ._releases import read_releases
from ._schema import schema_problems
from ._yaml import escape_pointer, load_yaml, pointer_under

__all__ = [
    "ENGINE_VERSION",
    "Policy",
    "PolicyRef",
    "bundled_policies_dir",
    "check_policy_file",
    "find_policy",
    "list_policy_files",
    "load_policy",
    "load_policy_text",
    "policy_dirs",
    "semver_key",
    "stray_policy_files",
]

ENGINE_VERSION = "0.1.0"
BACKENDS = ("native", "durable")

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$")


def semver_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key for semantic versions (pre-releases sort before their release)."""
    m = _SEMVER.match(version)
    if not m:
        raise ValueError(f"'{version}' is not a semantic version such as 1.2.0")
    major, minor, patch, pre = m.groups()
    return int(major), int(minor), int(patch), 0 if pre else 1, pre or ""


# not a mypyc native class: the durable backend keeps a weak reference to each policy
@mypyc_attr(native_class=False)
class Policy:
    """A loaded, compiled, immutable policy.

    Attributes:
        name, version, title: from the policy's metadata.
        sha256: hex digest of the file's bytes, recorded in every decision.
        path: where it was loaded from (None for text).
        compiled: the compiled form (rules in match order).
        document: the policy document as loaded (read-only use).
    """

    def __init__(
        self, compiled: CompiledPolicy, sha256: str, path: Path | None, document: Mapping[str, Any]
    ) -> None:
        self.compiled = compiled
        self.sha256 = sha256
        self.path = path
        self.document = document
        meta = compiled.meta
        self.name: str = meta["name"]
        self.version: str = meta["version"]
        self.title: str = meta.get("title", self.name)
        # shared by every decision of this policy: decisions hand out copies, never these
        self._header = {"name": self.name, "version": self.version, "sha256": sha256}
        self._engines = {b: {"version": ENGINE_VERSION, "backend": b} for b in BACKENDS}
        #: the backend ``evaluate`` uses unless told otherwise ("native" or "durable")
        self.backend = "native"

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Rule ids in the order they are matched."""
        return tuple(r.id for r in self.compiled.rules)

    def evaluate(
        self,
        facts: Mapping[str, Any],
        as_of: date | datetime | str | None = None,
        *,
        trace: str = "full",
        file: str | None = None,
        locate: Callable[[str], tuple[int, int] | None] | None = None,
        backend: str | None = None,
    ) -> Decision:
        """Evaluate one interview's facts.

        Args:
            facts: fact name -> value (ISO strings or date objects for dates).
            as_of: the moment of evaluation when the facts carry no ``as_of``;
                None means now (UTC), which is recorded in the decision.
            trace: "full" (every rule with every condition), "fired"
                (conditions of fired rules, the failing condition of others) or
                "none" (which rules fired, nothing more).
            file: the facts' file name, for error messages.
            locate: maps a JSON pointer to (line, column) in that file; when it
                is ``Positions.of``, an unknown fact is located at its name.
            backend: "native" or "durable" (durable_rules' Rete network);
                default: the one the policy was loaded for.

        Returns:
            The decision; identical for both backends but for ``engine.backend``.

        Raises:
            FactsError: the facts are invalid (every bad field is listed).
            BackendUnavailable: durable was asked for but is not installed.
        """
        if trace not in TRACE_MODES:
            raise ValueError(f"trace must be one of {', '.join(TRACE_MODES)}, not {trace!r}")
        backend = backend or self.backend
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        normal = normalize_facts(facts, default_as_of=as_of, file=file, locate=locate)
        try:
            if backend == "durable":
                from . import _durable

                body = _durable.program_for(self).run(normal, trace)
                fired = None  # its trace entries are dicts: Decision reads the ids from them
            else:
                body, fired = run(self.compiled, normal, trace)
        except OverflowError as exc:
            # only reachable through extreme parameters: facts are bounded to years 1900-2999
            raise FactsError(
                [
                    Problem(
                        "date-out-of-range",
                        "a date the policy computes from these facts falls outside the calendar",
                        "",
                        file,
                        suggestion="check the dates in the facts and the policy's parameters",
                    )
                ]
            ) from exc
        data: dict[str, Any] = {
            "applicant_id": normal.get("applicant_id"),
            "as_of": jsonable(normal["as_of"]),
            "policy": self._header,
            "engine": self._engines[backend],
        }
        data.update(body)
        return Decision(data, fired)

    def __repr__(self) -> str:
        return f"Policy({self.name}@{self.version}, sha256={self.sha256[:12]})"


def _parse(data: bytes, file: str | None, path: Path | None) -> tuple[Policy | None, list[Problem]]:
    if path is not None:
        from ._releases import release_problem

        changed = release_problem(path, data, file)
        if changed is not None:
            return None, [changed]
    doc = load_yaml(data, file)
    tree = doc.data
    found = list(doc.problems)  # problems in the YAML itself
    if found:
        if doc.partial is None:  # the document cannot be read at all
            return None, found
        # a tag, a repeated or merge key, a value its tag cannot read: the rest of
        # the document is checked too (without those values)
        tree = doc.partial
    elif tree is None:
        return None, [
            Problem(
                "empty",
                "the policy file is empty",
                "",
                file,
                1,
                1,
                "start from policies/interview-follow-up",
            )
        ]
    schema = problems = schema_problems("policy", tree, file, doc.positions)
    if found:
        problems = found + [p for p in schema if not _follows_from(p, found)]
    if problems:
        stand_in, replaced = _stand_ins(tree, problems)
        broken = _broken_rules(problems, stand_in, replaced)
        if broken is None:
            return None, sorted(problems, key=Problem.sort_key)
        # the mistakes are inside some rules, in words, or in parameters, tables,
        # calendars, derived facts or templates (which stand-ins replace): the
        # rest is checked too
        # the first value of a repeated key is kept and checked like any other
        # (unless the schema found it wrong): only the other places are left alone
        broken_at = frozenset(p.pointer for p in [*found, *schema] if p.code != "duplicate-key")
        _, more = compile_policy(stand_in, file, doc.positions, broken, broken_at)
        names = _stood_in_names(replaced)
        left_out = _words(doc.left_out)
        more = [
            m
            for m in more
            if not any(pointer_under(m.pointer, r) for r in replaced)
            and not _follows_from(m, found)
            and not _uses_stand_in(m, tree, names)
            and not _used_where_left_out(m, left_out)
        ]
        return None, sorted(problems + more, key=Problem.sort_key)
    compiled, problems = compile_policy(doc.data, file, doc.positions)
    problems += changelog_problems(doc.data["policy"], file, doc.positions.of)
    if path is not None:
        problems += _path_problems(
            doc.data["policy"],
            path,
            file,
            doc.positions.of("/policy/name"),
            doc.positions.of("/policy/version"),
        )
    if compiled is None or problems:
        return None, sorted(problems, key=Problem.sort_key)
    return Policy(compiled, hashlib.sha256(data).hexdigest(), path, doc.data), []


#: what stands in, while the rest is checked, for an entry the schema found a
#: mistake in: a parameter of 0 (a number, without a unit), a calendar without
#: windows, a table without rows (keyed by a fact every interview has), a
#: derived fact of text without choices and a template without words. What a
#: rule says about its use of a table or derived fact standing in is not
#: reported (see ``_uses_stand_in``).
_STAND_INS: Mapping[str, Mapping[str, Any]] = {
    "parameters": {"value": 0},
    "calendars": {"windows": []},
    "tables": {"key": "interview_at", "type": "number", "rows": {}},
    "derived": {"type": "text"},
    "templates": {},
}
#: the sections whose stand-ins have a type a rule may use them with wrongly
_TYPED_SECTIONS = ("tables", "derived")
#: what a rule's use of a table or derived fact standing in may be told, only
#: because the stand-in has another type or other values than the one meant
_USE_CODES = frozenset({"type-mismatch", "unknown-value"})
#: a condition (or a ``set``) names what it tests (or sets) under one of these keys
_SUBJECT_KEYS = ("fact", "since", "elapsed", "value")
#: what is said of a definition no rule uses
_UNUSED_CODES = frozenset(
    {
        "parameter-unused",
        "table-unused",
        "calendar-unused",
        "template-unused",
        "derived-unused",
        "derived-never-written",
    }
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _follows_from(problem: Problem, yaml_problems: list[Problem]) -> bool:
    """Whether a problem is only the consequence of a problem in the YAML: a value
    left out for its tag says nothing more at or under its place, a repeated key
    nothing more at its place (the first value is kept: what is inside it is
    checked), and a mapping a merge key or a key that is not text was left out
    of says nothing more about what it lacks."""
    for y in yaml_problems:
        if y.code in ("merge-key", "bad-key", "duplicate-key"):
            if problem.pointer == y.pointer:
                return True
        elif pointer_under(problem.pointer, y.pointer):
            return True
    return False


def _stood_in_names(replaced: Iterable[str]) -> frozenset[str]:
    """The names of the tables and derived facts replaced by stand-ins."""
    names: set[str] = set()
    for pointer in replaced:
        section, _, name = pointer[1:].partition("/")
        if section in _TYPED_SECTIONS:
            names.add(name.replace("~1", "/").replace("~0", "~"))
    return frozenset(names)


def _words(texts: Iterable[Any]) -> frozenset[str]:
    """The name-like words of some texts (and of the values in them)."""
    words: set[str] = set()
    for text in texts:
        found = _WORD.findall(json.dumps(text, default=str) if not isinstance(text, str) else text)
        words.update(found)
        words.update(part for w in found for part in w.split("-"))  # a-b: names a and b too
    return frozenset(words)


def _uses_stand_in(problem: Problem, doc: Any, names: frozenset[str]) -> bool:
    """Whether a rule's problem is about its use of a table or derived fact that
    a stand-in replaces (its type or values are not known): the one to fix is
    the table or the declaration, already reported."""
    if not names or problem.code not in _USE_CODES or not problem.pointer.startswith("/rules/"):
        return False
    # the value the problem is at, and the condition or ``set`` around it
    node: Any = doc
    near: list[Any] = []
    for token in problem.pointer[1:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return False
        if isinstance(node, dict) and any(k in node for k in _SUBJECT_KEYS):
            near = [node]
    return not names.isdisjoint(_words([node, *near]))


def _used_where_left_out(problem: Problem, left_out: frozenset[str]) -> bool:
    """Whether a definition said to be unused is named in a value left out of the
    document for a problem in its YAML (a tag, a repeated key): it may be used there."""
    if problem.code not in _UNUSED_CODES:
        return False
    name = problem.pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
    return name in left_out


def _stand_ins(doc: Any, problems: list[Problem]) -> tuple[Any, list[str]]:
    """The document with every parameter, table, calendar, derived fact and
    template the schema found a mistake in replaced by a stand-in, and the pointers of the
    entries replaced: the rules that use them are checked all the same, and
    nothing more is said about an entry that is already reported."""
    if not isinstance(doc, dict):
        return doc, []
    replaced: list[str] = []
    stand_in = dict(doc)
    for section, placeholder in _STAND_INS.items():
        entries = doc.get(section)
        if not isinstance(entries, dict):
            continue
        broken = {
            name
            for name in entries
            if any(
                pointer_under(p.pointer, f"/{section}/{escape_pointer(name)}")
                and not _only_words(p, doc)
                for p in problems
            )
        }
        if broken:
            stand_in[section] = {
                name: dict(placeholder) if name in broken else spec
                for name, spec in entries.items()
            }
            replaced += [f"/{section}/{escape_pointer(name)}" for name in broken]
    return stand_in, replaced


def _broken_rules(
    problems: list[Problem], doc: Any, replaced: Iterable[str] = ()
) -> frozenset[int] | None:
    """The indexes of the rules the schema problems are in, or None when a
    problem lies elsewhere in a place compiling reads (then the document cannot
    be compiled at all). Problems in words compiling does not read (titles,
    descriptions, the changelog, a key it ignores) do not stop it: the mistakes
    in the rules are found too."""
    found: set[int] = set()
    rules = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(rules, list):
        return None
    for p in problems:
        if _only_words(p, doc) or any(pointer_under(p.pointer, r) for r in replaced):
            continue  # words only, or an entry replaced by a stand-in (see _stand_ins)
        m = re.match(r"^/rules/(\d+)(/|$)", p.pointer)
        if m is None or int(m.group(1)) >= len(rules):
            return None
        found.add(int(m.group(1)))
    for i, rule in enumerate(rules):  # the compiler reads every rule's id
        if i not in found and not (isinstance(rule, dict) and isinstance(rule.get("id"), str)):
            return None
    return frozenset(found)


#: places of a policy that compiling never reads: what they hold is words for people
_WORDS = re.compile(
    r"^/policy(/.*)?$"
    r"|^/(parameters|tables|calendars|derived)/[^/]+/description$"
    r"|^/calendars/[^/]+/windows/\d+/description$"
    r"|^/templates/[^/]+/(purpose|subject|body)$"
)
#: sections whose entries are mappings of settings (``parameters: {x: {value: 7}}``)
_SECTIONS = re.compile(r"^/(parameters|tables|calendars|derived|templates)/[^/]+")


def _only_words(problem: Problem, doc: Mapping[str, Any]) -> bool:
    """Whether a schema problem is in words only: compiling can go on without them."""
    if not isinstance(doc.get("policy"), dict):
        return False  # the policy's name and version are needed
    if problem.code == "missing-key":
        missing = re.match(r"the key '(\w+)' is required here", problem.message)
        key = missing.group(1) if missing else ""
        in_words = key in ("description", "purpose", "subject", "body")
        return problem.pointer == "/policy" or bool(
            _SECTIONS.fullmatch(problem.pointer) and in_words
        )
    if problem.code == "unknown-key" and _SECTIONS.match(problem.pointer):
        return problem.pointer.count("/") == 3  # a key the entry does not have: ignored
    return bool(_WORDS.match(problem.pointer))


def changelog_problems(
    meta: Mapping[str, Any],
    file: str | None,
    position: Callable[[str], tuple[int, int] | None],
    *,
    releasing: bool = False,
) -> list[Problem]:
    """Mistakes in ``policy.changelog``: a date that is not a real day, a version
    listed twice; and with ``releasing``, no entry for the version itself or a
    change still reading TODO (what ``followup new-version`` leaves to fill in)."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    entries = meta.get("changelog") or []
    for i, entry in enumerate(entries):
        at = f"/policy/changelog/{i}"
        day = entry.get("date")
        if isinstance(day, str):
            try:
                date.fromisoformat(day)
            except ValueError:
                problems.append(
                    Problem.at(
                        position(f"{at}/date"),
                        "invalid-date",
                        f"changelog entry {entry['version']} has date {show_value(day)}, which "
                        "is not a day of the calendar",
                        f"{at}/date",
                        file,
                        "write the day it was released or drafted as YYYY-MM-DD, e.g. 2026-03-02",
                        day,
                    )
                )
        version = str(entry["version"])
        if version in seen:
            problems.append(
                Problem.at(
                    position(f"{at}/version"),
                    "duplicate-changelog-version",
                    f"the changelog has two entries for version {version} "
                    f"(entries {seen[version] + 1} and {i + 1})",
                    f"{at}/version",
                    file,
                    "merge their changes into one entry",
                    version,
                )
            )
        seen.setdefault(version, i)
        if releasing:
            for j, change in enumerate(entry["changes"]):
                if re.search(r"\bTODO\b", change):
                    problems.append(
                        Problem.at(
                            position(f"{at}/changes/{j}"),
                            "changelog-todo",
                            f"the changelog of {version} still says {show_value(change)}",
                            f"{at}/changes/{j}",
                            file,
                            "write what changed and why, citing the guidance (G1-G20), "
                            "then release",
                            change,
                        )
                    )
    if releasing and str(meta["version"]) not in seen:
        problems.append(
            Problem.at(
                position("/policy/changelog"),
                "changelog-missing-version",
                f"the changelog has no entry for version {meta['version']}, the one released",
                "/policy/changelog",
                file,
                f'add one: - version: "{meta["version"]}", with its date and changes',
                meta["version"],
            )
        )
    return problems


def _path_problems(
    meta: Mapping[str, Any],
    path: Path,
    file: str | None,
    name_pos: tuple[int, int] | None,
    version_pos: tuple[int, int] | None,
) -> list[Problem]:
    """A file named like ``<name>/<semver>.yaml`` must say that name and version inside."""
    problems: list[Problem] = []
    if not _SEMVER.match(path.stem):
        return problems
    # a path given relative to its own folder (1.0.0.yaml) has the folder's name too
    path = path.absolute()
    if meta["version"] != path.stem:
        problems.append(
            Problem.at(
                version_pos,
                "version-mismatch",
                f"the file is named {path.name} but says version {meta['version']}",
                "/policy/version",
                file,
                f"set version: {path.stem}, or rename the file to {meta['version']}.yaml",
            )
        )
    if meta["name"] != path.parent.name:
        problems.append(
            Problem.at(
                name_pos,
                "name-mismatch",
                f"the file is in the folder '{path.parent.name}' but says name '{meta['name']}'",
                "/policy/name",
                file,
                f"set name: {path.parent.name}, or move the file to a folder named {meta['name']}",
            )
        )
    return problems


def load_policy_text(text: str | bytes, file: str | None = None) -> Policy:
    """Load a policy from YAML text (for tests and tools).

    Raises:
        PolicyError: with every problem found.
    """
    # a lone surrogate cannot be UTF-8: kept as its bytes, it is reported at its place
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    policy, problems = _parse(data, file, None)
    if policy is None:
        raise PolicyError(problems)
    return policy


def check_policy_file(path: str | Path) -> list[Problem]:
    """Every problem in a policy file ([] when it is valid)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        return [
            Problem("unreadable", f"cannot read the file: {exc.strerror or exc}", "", str(path))
        ]
    _, problems = _parse(data, str(path), p)
    return problems


def bundled_policies_dir() -> Path:
    """The folder of the policies shipped with followup."""
    return Path(str(resources.files("followup.policies")))


def env_policy_dirs() -> list[Path]:
    """The folders ``$FOLLOWUP_POLICIES`` names, in order."""
    return [Path(d) for d in os.environ.get("FOLLOWUP_POLICIES", "").split(os.pathsep) if d]


def policy_dirs(extra: Iterable[str | Path] = ()) -> list[Path]:
    """Where policies are looked up: ``extra``, then ``$FOLLOWUP_POLICIES``, then the bundled ones."""
    return [Path(d) for d in extra] + env_policy_dirs() + [bundled_policies_dir()]


@dataclass(frozen=True)
class PolicyRef:
    name: str
    version: str
    path: Path


def list_policy_files(dirs: Iterable[Path]) -> list[PolicyRef]:
    """Every ``<name>/<semver>.yaml`` under the given folders (first folder wins on duplicates)."""
    found: dict[tuple[str, str], PolicyRef] = {}
    for f in _folder_files(dirs):
        if f.suffix == ".yaml" and _SEMVER.match(f.stem):
            name = f.parent.name
            found.setdefault((name, f.stem), PolicyRef(name, f.stem, f))
    return sorted(found.values(), key=lambda r: (r.name, semver_key(r.version)))


def _folder_files(dirs: Iterable[Path]) -> Iterator[Path]:
    """The files in each policy folder (``<dir>/<name>/*``), in name order."""
    for d in dirs:
        if not d.is_dir():
            continue
        for sub in sorted(d.iterdir()):
            if sub.is_dir():
                yield from sorted(f for f in sub.iterdir() if f.is_file())


def stray_policy_files(dirs: Iterable[Path]) -> list[Problem]:
    """YAML files in policy folders that are never read: a policy version is
    ``<name>/<semver>.yaml`` and its tests ``<semver>.tests.yaml``, so
    ``1.1.yaml``, ``1.2.0.yml`` or ``v1.3.0.yaml`` would be skipped without a word."""
    problems: list[Problem] = []
    for f in _folder_files(dirs):
        if f.suffix not in (".yaml", ".yml"):
            continue
        stem = f.name[: -len(f.suffix)]
        tests = stem.endswith(".tests")
        version = stem[: -len(".tests")] if tests else stem
        if f.suffix == ".yaml" and _SEMVER.match(version):
            continue
        problems.append(_stray(f, version, tests))
    return problems


def _meant_version(version: str) -> str:
    """The version a misnamed file most likely means: ``v1.3.0`` and ``1.1`` mean
    1.3.0 and 1.1.0."""
    guess = version.lstrip("vV")
    parts = guess.split(".")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        guess += ".0"
    return guess


def _stray(f: Path, version: str, tests: bool) -> Problem:
    guess = _meant_version(version)
    ending = ".tests.yaml" if tests else ".yaml"
    fix = guess + ending if _SEMVER.match(guess) else f"<version>{ending}, e.g. 1.0.0{ending}"
    what = "test file" if tests else "policy version"
    return Problem(
        "misnamed-policy-file",
        f"{f.name} is not read: a {what} in a policy folder is named "
        f"<version>{ending} with a full version (1.2.0{ending})",
        "",
        str(f),
        suggestion=f"rename it to {fix}",
        value=f.name,
    )


def find_policy(name: str, version: str | None = None, dirs: Iterable[Path] | None = None) -> Path:
    """The file of policy ``name`` at ``version``.

    Without a version: the highest released version (recorded in the
    folder's RELEASES file), so that a draft someone is still editing is
    used only when asked for by its version; the highest draft when no
    version has been released yet.

    Raises:
        PolicyNotFound: naming what exists instead.
    """
    refs = [r for r in list_policy_files(policy_dirs() if dirs is None else dirs) if r.name == name]
    if not refs:
        names = sorted({r.name for r in list_policy_files(policy_dirs() if dirs is None else dirs)})
        from ._errors import did_you_mean

        hint = did_you_mean(name, names)
        raise PolicyNotFound(
            f"no policy named '{name}'"
            + (f"; {hint}" if hint else "")
            + (f" (known: {', '.join(names)})" if names else "")
        )
    if version is None:
        released = [r for r in refs if r.version in read_releases(r.path.parent)]
        return (released or refs)[-1].path
    for r in refs:
        if r.version == version:
            return r.path
    strays = [
        p.render()
        for p in stray_policy_files(sorted({r.path.parent.parent for r in refs}))
        if Path(str(p.file)).parent.name == name
        and _meant_version(str(p.value).split(".y")[0]) == version
    ]
    raise PolicyNotFound(
        f"policy '{name}' has no version {version} (versions: {', '.join(r.version for r in refs)})"
        + (f"; {strays[0]}" if strays else "")
    )


def load_policy(
    name_or_path: str | Path = "interview-follow-up",
    version: str | None = None,
    *,
    policies_dir: Iterable[str | Path] = (),
    backend: str = "native",
) -> Policy:
    """Load and compile a policy.

    Args:
        name_or_path: a policy name (``interview-follow-up``), ``NAME@VERSION``,
            or the path of a policy file.
        version: the version to load when a name is given (default: the highest
            released, else the highest draft; see ``find_policy``).
        policies_dir: extra folders to search before ``$FOLLOWUP_POLICIES`` and
            the bundled policies.
        backend: "native" (default) or "durable". With "durable" the policy
            is translated to durable_rules now, so a rule it cannot express
            fails here, naming the rule and the feature.

    Raises:
        PolicyNotFound: no such policy or version.
        PolicyError: the policy is invalid; ``problems`` lists every mistake.
        BackendUnavailable: durable was asked for but durable-rules is not installed.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    text = str(name_or_path)
    path = Path(text)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or os.sep in text:
        if not path.is_file():
            raise PolicyNotFound(f"no policy file at {text}")
    else:
        name = text
        if "@" in text:
            name, _, at_version = text.partition("@")
            version = version or at_version
        path = find_policy(name, version, policy_dirs(policies_dir))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyNotFound(f"cannot read {path}: {exc.strerror or exc}") from exc
    policy, problems = _parse(data, str(path), path)
    if policy is None:
        raise PolicyError(problems)
    if backend == "durable":
        from . import _durable

        _durable.program_for(policy)
        policy.backend = "durable"
    return policy
