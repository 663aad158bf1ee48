"""Safe YAML loading with positions and limits.

Policies and facts are data, never code: documents are composed by PyYAML's
safe composer, every node's position is kept for error messages, and the
document is rejected when it is too large, nests too deeply, expands aliases
too much, refers to itself through an alias, or repeats a key (YAML would
silently keep only the last one). Depth and self-reference are checked while
the document is composed, before anything recurses over it.

Scalars follow a deliberately small set of types: ``true``/``false`` are the
only booleans (``NO`` stays the country code for Norway), and dates stay
strings so that facts and policies parse them in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from ._errors import Problem, show_value

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "TOO_DEEP",
    "LoadedDocument",
    "Positions",
    "load_yaml",
]

MAX_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
#: lists and mappings inside one another. A policy needs about ten levels, facts
#: two. JSON Schema validation descends nested conditions recursively (about 13
#: Python calls a level), so this also keeps it well inside Python's recursion
#: limit (1000 calls): a policy 60 levels deep would exhaust it.
MAX_DEPTH = 50
#: what a document nested deeper than MAX_DEPTH is told (YAML here, JSON facts in the CLI)
TOO_DEEP = f"lists and mappings are nested more than {MAX_DEPTH} levels deep here"


class _Refused(Exception):
    """The composer stopped at a construct it will not build (see ``_Loader``)."""

    def __init__(self, code: str, message: str, event: yaml.Event, suggestion: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        mark = event.start_mark
        self.line = mark.line + 1 if mark else None
        self.column = mark.column + 1 if mark else None
        self.suggestion = suggestion


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like booleans and no implicit timestamps.

    Composing also refuses, before PyYAML's composer recurses too deep, a
    document nested more than MAX_DEPTH lists and mappings deep (counting what
    each alias brings in) and an alias used inside its own anchor (``&a [*a]``):
    that would be an endless document.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0  # lists and mappings open around the node being composed
        self._deepest = 0  # the deepest level reached in the collection being composed
        self._open: set[str] = set()  # anchors of the collections being composed
        self._heights: dict[str, int] = {}  # anchor -> levels of lists and mappings in it

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._check_alias(self._next_event())
        elif self.check_event(yaml.CollectionStartEvent):
            return self._compose_collection(parent, index)
        return super().compose_node(parent, index)

    def _compose_collection(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Compose a list or mapping one level deeper, noting its anchor's height."""
        event = self._next_event()
        anchor: str | None = getattr(event, "anchor", None)
        outer = self._deepest
        self._depth += 1
        self._reach(self._depth, event, None)
        start = self._deepest = self._depth
        if anchor is not None:
            self._open.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)
        if anchor is not None:
            self._heights[anchor] = self._deepest - start + 1
        self._deepest = max(outer, self._deepest)
        return node

    def _check_alias(self, event: yaml.Event) -> None:
        anchor = str(getattr(event, "anchor", ""))
        if anchor in self._open:
            raise _Refused(
                "recursive-alias",
                f"the alias *{anchor} is used inside &{anchor} itself, "
                "which would make the document endless",
                event,
                f"replace *{anchor} here by the values it should stand for",
            )
        self._reach(self._depth + self._heights.get(anchor, 0), event, anchor)

    def _next_event(self) -> yaml.Event:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        return event

    def _reach(self, depth: int, event: yaml.Event, alias: str | None) -> None:
        if depth > MAX_DEPTH:
            through = f" once the alias *{alias} is filled in" if alias else ""
            raise _Refused(
                "too-deep",
                f"{TOO_DEEP}{through}",
                event,
                "flatten the structure; a policy or facts file needs only a few levels",
            )
        self._deepest = max(self._deepest, depth)


#: the YAML 1.1 number forms a person does not mean as numbers: 12:30 (base 60,
#: read as 750) and a leading 0 (010, read as the octal 8)
_REPLACED = (
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
)
_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in value if tag not in _REPLACED]
    for key, value in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?[0-9][0-9_]*)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)"
        r"|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _whole_number(written: str) -> int:
    """A whole number as YAML 1.2 reads it: decimal even with a leading 0 (007 is
    7, not an octal number), or 0x and 0b for hexadecimal and binary."""
    text = written.replace("_", "")
    sign = -1 if text[:1] == "-" else 1
    text = text.lstrip("+-")
    if text.startswith("0b"):
        return sign * int(text[2:], 2)
    if text.startswith("0x"):
        return sign * int(text[2:], 16)
    return sign * int(text, 10)


class Positions:
    """Maps JSON pointers to 1-based (line, column) of the node there."""

    def __init__(self) -> None:
        self._at: dict[str, tuple[int, int]] = {}
        self._keys: dict[str, tuple[int, int]] = {}

    def add(self, pointer: str, node: yaml.Node) -> None:
        self._at.setdefault(pointer, (node.start_mark.line + 1, node.start_mark.column + 1))

    def add_key(self, pointer: str, node: yaml.Node) -> None:
        self._keys.setdefault(pointer, (node.start_mark.line + 1, node.start_mark.column + 1))

    def put(self, pointer: str, position: tuple[int, int], *, key: bool = False) -> None:
        """Record a position found without a YAML node (in a JSON document)."""
        (self._keys if key else self._at).setdefault(pointer, position)

    def of(self, pointer: str, *, key: bool = False) -> tuple[int, int] | None:
        """Position of the value at pointer (or of its key), else of the nearest parent."""
        if key and pointer in self._keys:
            return self._keys[pointer]
        probe = pointer
        while True:
            if probe in self._at:
                return self._at[probe]
            if not probe:
                return None
            probe = probe.rsplit("/", 1)[0]


@dataclass(frozen=True)
class LoadedDocument:
    data: Any
    positions: Positions
    problems: tuple[Problem, ...]
    #: when the only problems are in some values (a tag, a value its tag cannot
    #: read, a repeated or merge key): the rest of the document as read, each of
    #: those values left out (None, or the first of a repeated key kept), so that
    #: the rest can still be checked; None otherwise
    partial: Any = None
    #: the text of every value left out of ``partial``, as written
    left_out: tuple[str, ...] = ()


def escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer_under(pointer: str, place: str) -> bool:
    """Whether JSON pointer ``pointer`` is ``place`` or inside it."""
    return pointer == place or pointer.startswith(f"{place}/")


def load_yaml(text: str | bytes, file: str | None = None) -> LoadedDocument:
    """Parse one YAML document safely.

    Args:
        text: the document (bytes are decoded as UTF-8).
        file: the file name used in problems.

    Returns:
        The data, the positions of every node, and problems found while
        loading. When problems is non-empty, data is None (see ``partial``).
    """
    positions = Positions()
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            return _fail(
                "too-large",
                f"the file is {len(text)} bytes; at most {MAX_BYTES} are read",
                file,
                positions,
            )
        raw = text
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _not_utf8(raw, exc, file, positions)
    if len(text) > MAX_BYTES:
        return _fail(
            "too-large",
            f"the file has {len(text)} characters; at most {MAX_BYTES} are read",
            file,
            positions,
        )
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # a character YAML refuses (NUL, ESC, DEL...)
        return _unprintable(text, exc, file, positions)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is not None and _is_tab(text, mark.index, str(exc.problem)):
            return _tab(text, mark, file, positions)
        line, column, what, suggestion = _syntax(text, exc)
        return _fail(
            "yaml-syntax",
            f"the YAML cannot be read: {what}",
            file,
            positions,
            line=line,
            column=column,
            suggestion=suggestion,
        )
    except yaml.YAMLError as exc:
        return _fail("yaml-syntax", f"the YAML cannot be read: {exc}", file, positions)
    except _Refused as exc:
        return _fail(
            exc.code,
            exc.message,
            file,
            positions,
            line=exc.line,
            column=exc.column,
            suggestion=exc.suggestion,
        )
    finally:
        loader.dispose()
    if node is None:
        return LoadedDocument(None, positions, ())
    problems: list[Problem] = []
    walker = _Walker(positions, problems, file)
    data = walker.build(node, "")
    if problems:
        return LoadedDocument(None, positions, tuple(problems), data, tuple(walker.left_out))
    return LoadedDocument(data, positions, ())


_CHECK = "check the indentation and quoting on this line and the one before it"
_OPENERS = {"flow mapping": ("{", "}"), "flow sequence": ("[", "]")}


def _syntax(text: str, exc: yaml.MarkedYAMLError) -> tuple[int | None, int | None, str, str]:
    """Where a YAML syntax error most likely is, and what it is, in words: line,
    column, message, suggestion. PyYAML names the place it stopped, often lines
    after the mistake (a quote left open runs on to the next quote), in its own
    terms (``expected <block end>, but found '<scalar>'``)."""
    mark = exc.problem_mark or exc.context_mark
    at = (mark.line + 1, mark.column + 1) if mark else (None, None)
    problem, context = str(exc.problem or ""), str(exc.context or "")
    opened = exc.context_mark
    if context == "while scanning a quoted scalar" and opened is not None:
        quote = text[opened.index : opened.index + 1]
        return (
            opened.line + 1,
            opened.column + 1,
            f"the quote {quote} at line {opened.line + 1} column {opened.column + 1} is never "
            "closed",
            f"close it with {quote} at the end of its text, or remove it",
        )
    if mark is not None and problem.startswith("expected"):
        quoted = _quote_run_on(text, mark)
        if quoted is not None:
            return quoted
    for kind, (start, end) in _OPENERS.items():
        if context == f"while parsing a {kind}" and opened is not None:
            where = f"line {opened.line + 1} column {opened.column + 1}"
            return (
                opened.line + 1,
                opened.column + 1,
                f"the '{start}' at {where} is not closed: YAML expected ',' or '{end}' "
                f"before line {at[0]} column {at[1]}",
                f"close it with '{end}' (usually at the end of line {opened.line + 1}), "
                "and separate its items with ', '",
            )
    lines = text.splitlines()
    if mark is None or mark.line >= len(lines):
        return (*at, problem or context or "invalid YAML", _CHECK)
    here = lines[mark.line]
    indent = len(here) - len(here.lstrip(" "))
    before = _line_before(lines, mark.line)
    if problem == "mapping values are not allowed here":
        if before is not None and indent > _key_column(lines[before]) and ": " in lines[before]:
            return (
                *at,
                f"line {mark.line + 1} is indented more than line {before + 1}, so YAML reads "
                f"it as more of line {before + 1}'s value, and its ':' as out of place",
                f"indent it by {_key_column(lines[before])} spaces, as line {before + 1}, if it "
                "is a key of its own",
            )
        key = here.strip().split(":", 1)[0].lstrip("- ")
        return (
            *at,
            "this value has ': ' in it, which YAML reads as the start of another key",
            f'put the value in double quotes: {key}: "..."',
        )
    if problem == "could not find expected ':'" and opened is not None:
        return (
            opened.line + 1,
            opened.column + 1,
            f"line {opened.line + 1} has no ':' after its first word, so YAML cannot tell "
            "its key from its value",
            "write key: value, with ':' and a space after the key",
        )
    if problem.startswith("expected <block end>, but found"):
        other = lines[before] if before is not None else ""
        if here.lstrip().startswith("- ") and other.lstrip().startswith("- "):
            return (
                *at,
                f"the item at line {mark.line + 1} is indented by {indent} spaces, and the one "
                f"at line {before + 1 if before is not None else 0} by "
                f"{len(other) - len(other.lstrip(' '))}: YAML does not read them as one list",
                "indent the items of a list alike, by more than the key that holds the list",
            )
        levels = sorted(
            {_key_column(lines[i]) for i in range(_start(exc), mark.line) if _content(lines[i])}
        )
        shown = ", ".join(map(str, levels[:-1])) + f" or {levels[-1]}" if len(levels) > 1 else ""
        return (
            *at,
            f"line {mark.line + 1} is indented by {indent} space{'s' if indent != 1 else ''}, "
            "which does not line up with the lines above it"
            + (f" (they use {shown})" if shown else ""),
            "indent it as the lines it belongs with; YAML counts every space",
        )
    if problem.startswith("found character") and "cannot start any token" in problem:
        return (*at, f"a value cannot start with {problem.split()[2]} unless quoted", _QUOTE_IT)
    return (*at, problem or context or "invalid YAML", _CHECK)


_QUOTE_IT = 'put the value in double quotes: "..."'


def _quote_run_on(text: str, mark: Any) -> tuple[int, int, str, str] | None:
    """A quoted text that ran on over lines to end just where PyYAML stopped:
    most likely its closing quote is missing, and it took in the lines after it."""
    last: Any = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= mark.index:
                break
            last = token
    except yaml.YAMLError:
        pass
    if (
        isinstance(last, yaml.ScalarToken)
        and last.style in ('"', "'")
        and last.start_mark.line < last.end_mark.line == mark.line
    ):
        start, end = last.start_mark, last.end_mark
        return (
            start.line + 1,
            start.column + 1,
            f"the quote {last.style} at line {start.line + 1} column {start.column + 1} is not "
            f"closed on its line, so the text runs on to the next {last.style} at line "
            f"{end.line + 1} column {end.column}",
            f"close the quote at the end of line {start.line + 1}, or remove it",
        )
    return None


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _line_before(lines: list[str], number: int) -> int | None:
    """The index of the last line with content before ``number``."""
    for i in range(number - 1, -1, -1):
        if _content(lines[i]):
            return i
    return None


def _key_column(line: str) -> int:
    """Where a line's key starts (after its indentation and any '- ')."""
    column = len(line) - len(line.lstrip(" "))
    while line[column:].startswith("- "):
        column += 2 + len(line[column + 2 :]) - len(line[column + 2 :].lstrip(" "))
    return column


def _start(exc: yaml.MarkedYAMLError) -> int:
    return exc.context_mark.line if exc.context_mark is not None else 0


def _fail(
    code: str,
    message: str,
    file: str | None,
    positions: Positions,
    *,
    line: int | None = 1,
    column: int | None = 1,
    suggestion: str | None = None,
) -> LoadedDocument:
    return LoadedDocument(
        None, positions, (Problem(code, message, "", file, line, column, suggestion),)
    )


def _not_utf8(
    data: bytes, exc: UnicodeDecodeError, file: str | None, positions: Positions
) -> LoadedDocument:
    """Where the first byte that is not UTF-8 is, by line and column, and what it
    most likely is: a file saved as Latin-1 or Windows-1252 by an older editor."""
    start = data.rfind(b"\n", 0, exc.start) + 1
    line = data.count(b"\n", 0, start) + 1
    column = len(data[start : exc.start].decode("utf-8", "replace")) + 1
    byte = data[exc.start]
    guess = bytes([byte]).decode("cp1252", "replace")
    readable = guess.isprintable() and not guess.isspace() and guess != "\ufffd"
    like = f"; in the older Latin-1 encoding it is '{guess}'" if readable else ""
    return _fail(
        "not-utf8",
        f"the file is not UTF-8 text: the byte 0x{byte:02X} at line {line} column {column} "
        f"is not a UTF-8 character{like}",
        file,
        positions,
        line=line,
        column=column,
        suggestion="save the file as UTF-8: most editors offer it under Save with Encoding",
    )


def _unprintable(
    text: str, exc: yaml.reader.ReaderError, file: str | None, positions: Positions
) -> LoadedDocument:
    """A control character (NUL, ESC, DEL...) that YAML does not allow in a file,
    at its line and column: usually pasted in by accident, and invisible."""
    at = exc.position if 0 <= exc.position < len(text) else 0
    start = text.rfind("\n", 0, at) + 1
    line = text.count("\n", 0, start) + 1
    column = at - start + 1
    code = f"{exc.character:04X}"
    return _fail(
        "not-text",
        f"the file holds the character U+{code} at line {line} column {column}, an invisible "
        "control character that YAML does not allow in a file",
        file,
        positions,
        line=line,
        column=column,
        suggestion="delete it (it often comes in with pasted text); if it is really meant, "
        f"write it as \\u{code} inside double quotes",
    )


def _is_tab(text: str, index: int, problem: str) -> bool:
    """Whether PyYAML stopped at a tab because it is a tab."""
    at_tab = 0 <= index < len(text) and text[index] == "\t"
    return at_tab and ("'\\t'" in problem or "tab" in problem)


def _tab(text: str, mark: Any, file: str | None, positions: Positions) -> LoadedDocument:
    """A tab where YAML wants spaces: in the indentation, or between words."""
    line, column = mark.line + 1, mark.column + 1
    before = text[text.rfind("\n", 0, mark.index) + 1 : mark.index]
    if before.strip(" \t") in ("", "-"):
        message = f"a tab is used for indentation at line {line} column {column}; YAML needs spaces"
        suggestion = "replace the tab with spaces"
    else:
        message = f"a tab is used at line {line} column {column}; YAML needs spaces here"
        suggestion = "replace the tab with a space"
    return _fail(
        "yaml-syntax", message, file, positions, line=line, column=column, suggestion=suggestion
    )


class _TooBig(Exception):
    pass


class _Walker:
    """Builds Python data from composed nodes, recording positions as it goes."""

    def __init__(self, positions: Positions, problems: list[Problem], file: str | None) -> None:
        self.positions = positions
        self.problems = problems
        self.file = file
        self.count = 0
        self.constructor = yaml.constructor.SafeConstructor()
        #: the text of each value left out of the data because of a problem
        self.left_out: list[str] = []

    def build(self, node: yaml.Node, pointer: str) -> Any:
        try:
            return self._build(node, pointer)
        except _TooBig:
            self.problems.append(
                Problem(
                    "too-many-nodes",
                    f"the document expands to more than {MAX_NODES} values (aliases included)",
                    "",
                    self.file,
                    1,
                    1,
                    "remove repeated aliases (*name) or split the file",
                )
            )
            return None

    def _leave_out(self, node: yaml.Node) -> None:
        """Keep the text of a value left out of the data, as written: the names
        in it may be used there (see ``LoadedDocument.left_out``)."""
        start, end = node.start_mark, node.end_mark
        buffer = getattr(start, "buffer", None)
        if isinstance(buffer, str) and end is not None:
            self.left_out.append(buffer[start.pointer : end.pointer])

    def _problem(
        self, code: str, message: str, pointer: str, node: yaml.Node, suggestion: str | None = None
    ) -> None:
        self.problems.append(
            Problem(
                code,
                message,
                pointer,
                self.file,
                node.start_mark.line + 1,
                node.start_mark.column + 1,
                suggestion,
            )
        )

    def _build(self, node: yaml.Node, pointer: str) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig
        self.positions.add(pointer, node)
        if node.tag not in _PLAIN_TAGS:
            self._problem(
                "yaml-tag",
                f"the tag '{node.tag}' is not allowed; policies and facts are plain data",
                pointer,
                node,
                "remove the tag (the text after '!!' or '!')",
            )
            self._leave_out(node)
            return None
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._problem(
                        "merge-key",
                        "merge keys ('<<') are not supported",
                        pointer,
                        key_node,
                        "write the keys out in full",
                    )
                    self._leave_out(value_node)  # an alias: the text of what it stands for
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    self._problem("bad-key", "a key must be plain text", pointer, key_node)
                    self._leave_out(key_node)
                    self._leave_out(value_node)
                    continue
                key = str(key_node.value)
                child = f"{pointer}/{escape_pointer(key)}"
                if key in result:
                    self._problem(
                        "duplicate-key",
                        f"the key '{key}' appears twice in this mapping; YAML would keep only the last",
                        child,
                        key_node,
                        "remove or rename one of them",
                    )
                    self._leave_out(value_node)
                    continue
                self.positions.add_key(child, key_node)
                result[key] = self._build(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self._build(item, f"{pointer}/{i}") for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == "tag:yaml.org,2002:str":
            return str(node.value)
        try:
            if node.tag == "tag:yaml.org,2002:int":
                return _whole_number(str(node.value))
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ArithmeticError, LookupError, TypeError, ValueError):
            # a tag that does not fit the value (!!int abc, !!bool maybe), or an
            # integer of thousands of digits that Python refuses to convert
            kind = _TAG_WORDS.get(node.tag, "a value of its type")
            tag = "!!" + str(node.tag).rsplit(":", 1)[-1]
            if _tagged(node):
                message = f"{show_value(str(node.value))} cannot be read as {kind} ({tag})"
                suggestion = f"write {kind}, or remove {tag} to keep it as text"
            elif len(str(node.value)) > 1000:
                message = f"the number {show_value(str(node.value), 20)[1:]} is too long to read"
                suggestion = "write a smaller number"
            else:  # a form such as 0x_ that looks like a number but has no digits
                message = f"{show_value(str(node.value))} cannot be read as a number"
                suggestion = "write a number such as 7, or put the text in quotes"
            self._problem("yaml-value", message, pointer, node, suggestion)
            self._leave_out(node)
            return None


def _tagged(node: yaml.Node) -> bool:
    """Whether the node's tag is written in the document (``!!int 12``)."""
    mark = node.start_mark
    buffer: str = getattr(mark, "buffer", None) or ""
    return buffer[mark.pointer : mark.pointer + 1] == "!"


_TAG_WORDS = {
    "tag:yaml.org,2002:int": "a whole number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:null": "an empty value",
}


_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}
