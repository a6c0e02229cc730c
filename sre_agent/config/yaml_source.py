"""Safe YAML loading that remembers where every value came from (``file:line:col``).

PyYAML's ``SafeLoader`` composes nodes that carry marks; we build plain Python data from those
nodes ourselves so that a pydantic error location such as ``("spec", "thresholds", 1, "value")`` can
be turned back into the line and column an engineer has to fix. Duplicate keys, which
``yaml.safe_load`` silently collapses, are reported as errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sre_agent.errors import ConfigIssue

Loc = tuple[str | int, ...]
KEY_MARK = "__key__"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})


_FLOAT_TAG = "tag:yaml.org,2002:float"


class YamlFloat(float):
    """A float from YAML that remembers how it was written (``99.90000000000001`` is 99.9 as a float)."""

    text: str

    def __new__(cls, value: float, text: str) -> YamlFloat:
        """Keep ``text``, the scalar as written."""
        obj = super().__new__(cls, value)
        obj.text = text
        return obj


@dataclass
class YamlDocument:
    """One YAML document: its data plus the position of every value and mapping key."""

    file: str
    index: int
    data: Any
    line: int
    column: int
    marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def locate(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """Return (line, column), 1-based, of ``loc`` or of its nearest known ancestor.

        With ``key=True`` the position of the mapping key is preferred (for "unknown field" errors).
        """
        probe = tuple(loc)
        if key and (*probe, KEY_MARK) in self.marks:
            return self.marks[(*probe, KEY_MARK)]
        while probe:
            if probe in self.marks:
                return self.marks[probe]
            probe = probe[:-1]
        return self.line, self.column

    def issue(self, loc: Loc, message: str, *, key: bool = False, severity: str = "error") -> ConfigIssue:
        """Build a ConfigIssue located at ``loc``."""
        line, column = self.locate(loc, key=key)
        return ConfigIssue(self.file, line, column, format_loc(loc), message, severity)


def format_loc(loc: Loc) -> str:
    """Render a location as ``spec.thresholds[1].value``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.constructor = SafeConstructor()
        self.issues: list[ConfigIssue] = []
        # An alias is the same node object again: build it once (as safe_load does), so "billion laughs"
        # files stay linear instead of exploding.
        self._built: dict[int, tuple[Node, Any, int]] = {}  # id → (node, value, values under it): node kept alive
        self.expanded = 0
        """Values the document holds with every alias expanded: what validation will walk."""

    def start_document(self) -> None:
        """Forget the aliases of the previous document."""
        self._built.clear()
        self.expanded = 0

    def _count(self, node: Node, values: int) -> None:
        self.expanded += values
        if self.expanded > MAX_EXPANDED_VALUES:
            raise _Refused(
                None,
                None,
                f"the document expands to more than {MAX_EXPANDED_VALUES:,} values through its aliases (an alias "
                "bomb?); write the values out, or split the file",
                node.start_mark,
            )

    def build(self, node: Node, loc: Loc, marks: dict[Loc, tuple[int, int]]) -> Any:
        if len(loc) > MAX_DEPTH:
            raise _Refused(None, None, f"values nested deeper than {MAX_DEPTH} levels", node.start_mark)
        marks[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        before = self.expanded
        self._count(node, 1)
        if isinstance(node, ScalarNode):
            value = self.constructor.construct_object(node, deep=True)
            if isinstance(value, float) and node.tag == _FLOAT_TAG:
                return YamlFloat(value, node.value)
            return value
        if node.tag not in _COLLECTION_TAGS and isinstance(node, SequenceNode | MappingNode):
            # Same refusal as yaml.safe_load; checked here because collections are built below, not by PyYAML.
            raise yaml.constructor.ConstructorError(
                None, None, f"could not determine a constructor for the tag {node.tag!r}", node.start_mark
            )
        seen = self._built.get(id(node))
        if seen is not None and seen[0] is node:
            self._count(node, seen[2] - 1)
            return seen[1]
        if isinstance(node, SequenceNode):
            built = [self.build(child, (*loc, i), marks) for i, child in enumerate(node.value)]
            self._built[id(node)] = (node, built, self.expanded - before)
            return built
        if isinstance(node, MappingNode):
            explicit = {id(k) for k, _ in node.value if k.tag != _MERGE_TAG}
            self.constructor.flatten_mapping(node)
            result: dict[Any, Any] = {}
            written_explicitly: set[str] = set()
            for key_node, value_node in node.value:
                key = self.constructor.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    self._issue(key_node, loc, "mapping keys must be plain scalars")
                    continue
                if isinstance(key, bool):
                    # YAML 1.1 reads `on`, `off`, `yes`, `no` as booleans; as keys they are never meant so.
                    key = key_node.value
                name = key if isinstance(key, str) else str(key)
                is_explicit = id(key_node) in explicit
                if name in written_explicitly and is_explicit:
                    self._issue(key_node, (*loc, name), f"duplicate key {key!r}")
                    continue
                # Keys from `<<:` merges are overridden by explicit keys (and by later merges), as in safe_load.
                if is_explicit:
                    written_explicitly.add(name)
                child_loc = (*loc, name)
                marks[(*child_loc, KEY_MARK)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                result[key if isinstance(key, str) else str(key)] = self.build(value_node, child_loc, marks)
            self._built[id(node)] = (node, result, self.expanded - before)
            return result
        raise TypeError(f"unexpected YAML node {node!r}")  # pragma: no cover - PyYAML has three node kinds

    def _issue(self, node: Node, loc: Loc, message: str) -> None:
        self.issues.append(
            ConfigIssue(self.file, node.start_mark.line + 1, node.start_mark.column + 1, format_loc(loc), message)
        )


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML the agent will not read: too large once expanded, too deep, too many documents."""


MAX_EXPANDED_VALUES = 2_000_000
"""Values one document may hold once its aliases are expanded (20,000 rules of 50 values is 1,000,000)."""
MAX_DEPTH = 64
"""Nesting levels of one document (the deepest shipped file has 8)."""
MAX_DOCUMENTS = 20_000
"""Documents one file may hold."""

_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)
"""libyaml's safe loader when PyYAML was built with it: about 10x faster to compose, the same nodes and marks."""


def load_yaml_text(text: str, file: str) -> tuple[list[YamlDocument], list[ConfigIssue]]:
    """Parse every document of ``text``; return the documents and the problems found.

    Syntax errors stop the file (nothing after them can be trusted); duplicate keys do not. A valid file is
    composed by libyaml; a file libyaml refuses is parsed again by PyYAML's own parser, whose messages
    ("mapping values are not allowed here") are the ones users search for.
    """
    if _FAST_LOADER is not None:
        try:
            nodes = list(yaml.compose_all(text, Loader=_FAST_LOADER))
        except yaml.YAMLError:
            pass
        else:
            return _build(iter(nodes), file, text)
    return _build(yaml.compose_all(text, Loader=yaml.SafeLoader), file, text)


def _build(nodes: Iterator[Node], file: str, text: str) -> tuple[list[YamlDocument], list[ConfigIssue]]:
    builder = _Builder(file)
    documents: list[YamlDocument] = []
    try:
        for index, node in enumerate(nodes):
            if index >= MAX_DOCUMENTS:
                raise _Refused(None, None, f"more than {MAX_DOCUMENTS:,} documents in one file", node.start_mark)
            marks: dict[Loc, tuple[int, int]] = {}
            builder.start_document()
            data = builder.build(node, (), marks)
            documents.append(
                YamlDocument(file, index, data, node.start_mark.line + 1, node.start_mark.column + 1, marks)
            )
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        what = "YAML refused" if isinstance(exc, _Refused) else "YAML syntax error"
        builder.issues.append(ConfigIssue(file, line, column, "", f"{what}: {problem}{context}"))
    except yaml.reader.ReaderError as exc:  # NUL, ESC and other characters YAML refuses: located
        line, column = _position(text, exc.position, "\n")
        problem = (
            f"character #x{exc.character:04x} is not allowed in YAML" if isinstance(exc.character, int) else str(exc)
        )
        builder.issues.append(ConfigIssue(file, line, column, "", f"YAML syntax error: {problem}"))
    except yaml.YAMLError as exc:  # pragma: no cover - other non-marked errors are rare
        builder.issues.append(ConfigIssue(file, 1, 1, "", f"YAML error: {exc}"))
    except RecursionError:  # the parser's own recursion on absurd nesting, before the depth check can see it
        builder.issues.append(ConfigIssue(file, 1, 1, "", f"YAML error: values nested deeper than {MAX_DEPTH} levels"))
    return documents, builder.issues


def load_yaml_file(path: Path, display: str | None = None) -> tuple[list[YamlDocument], list[ConfigIssue]]:
    """Read and parse ``path``; unreadable files become a ConfigIssue, not an exception."""
    name = display or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], [ConfigIssue(name, 1, 1, "", f"cannot read file: {exc}")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # a Latin-1 or binary file: say where the first bad byte is
        line, column = _position(data, exc.start, b"\n")
        message = f"not UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded (save the file as UTF-8)"
        return [], [ConfigIssue(name, line, column, "", message)]
    return load_yaml_text(text, name)


def _position(text: Any, offset: int, newline: Any) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text`` (str or bytes)."""
    line = text.count(newline, 0, offset) + 1
    return line, offset - (text.rfind(newline, 0, offset) + 1) + 1
