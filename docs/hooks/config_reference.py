"""MkDocs hook: the configuration reference, generated from the agent's pydantic models at build time.

Registered in mkdocs.yml (``hooks:``). On ``on_files`` it imports the document models the loader parses
(``sre_agent.config`` and the rule-test file of ``sre_agent.ruletest``), walks every model reachable from them
and adds a virtual page, ``reference/config.md``, listing each model with its fields: name (as written in
YAML), type, default and description (the field's ``description``, else the docstring under the attribute),
plus the constraints pydantic enforces. Nothing is written to ``docs/`` or to ``sre_agent/``: the page exists
only in the built site, so it can never be stale in git.
"""

from __future__ import annotations

import ast
import enum
import inspect
import itertools
import re
import textwrap
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Any

import annotated_types
import yaml
from markdown_text import add_generated_page, escape
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

PAGE = "reference/config.md"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated configuration reference to the site's files."""
    return add_generated_page(files, config, PAGE, render)


# --- what is documented --------------------------------------------------------------------------------------


def documents() -> list[tuple[str, str, type[BaseModel], str]]:
    """(title, anchor, model, where it is read from) of every document kind the agent reads."""
    from sre_agent.config.agent import AgentConfig
    from sre_agent.config.anomaly import LatencyAnomalyRule
    from sre_agent.config.budget import CostBudgetDoc
    from sre_agent.config.routing import RoutingDoc, SilenceDoc
    from sre_agent.config.slo import SloDoc
    from sre_agent.config.specs import ThresholdRule
    from sre_agent.ruletest.spec import RuleTestFile

    return [
        ("kind: AgentConfig", "doc-agentconfig", AgentConfig, "the file given with `--config` (or `SRE_AGENT_CONFIG`)"),
        ("kind: Threshold", "doc-threshold", ThresholdRule, "files and folders listed in `spec.rules`"),
        ("kind: LatencyAnomaly", "doc-latencyanomaly", LatencyAnomalyRule, "files and folders listed in `spec.rules`"),
        ("kind: CostBudget", "doc-costbudget", CostBudgetDoc, "files and folders listed in `spec.rules`"),
        ("kind: AlertRouting", "doc-alertrouting", RoutingDoc, "`spec.rules` (at most one per config)"),
        ("kind: Silence", "doc-silence", SilenceDoc, "files and folders listed in `spec.rules`"),
        ("kind: SLO", "doc-slo", SloDoc, "files and folders listed in `spec.slos` (OpenSLO v1 is converted to it)"),
        ("Rule unit test file", "doc-ruletest", RuleTestFile, "the files given to `sre-agent test`"),
    ]


# --- walking the models --------------------------------------------------------------------------------------


@dataclass
class Catalogue:
    """Every model and enum reached, in the order first reached, with the models that use them."""

    models: dict[type[BaseModel], str] = field(default_factory=dict)
    enums: dict[type[enum.Enum], str] = field(default_factory=dict)
    used_by: dict[type, list[type[BaseModel]]] = field(default_factory=dict)
    section: dict[type[BaseModel], str] = field(default_factory=dict)

    def anchor(self, tp: type) -> str:
        """The anchor of a model or enum section (its class name, lower-cased; module-qualified on a clash)."""
        return self.models.get(tp) or self.enums[tp]


def _types_in(annotation: Any) -> list[type]:
    """Models and enums named anywhere inside ``annotation``."""
    found: list[type] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel | enum.Enum):
        return [annotation]
    for arg in typing.get_args(annotation):
        found.extend(_types_in(arg))
    return found


def catalogue(roots: list[type[BaseModel]]) -> Catalogue:
    """Walk ``roots`` breadth-first through their fields' types."""
    cat = Catalogue()
    names: dict[str, type] = {}

    def name_for(tp: type) -> str:
        anchor = tp.__name__.lower()
        if anchor in names and names[anchor] is not tp:
            anchor = f"{tp.__module__.rsplit('.', 1)[-1]}-{anchor}"
        names[anchor] = tp
        return anchor

    for root in roots:
        queue: list[type[BaseModel]] = [root]
        while queue:
            model = queue.pop(0)
            if model in cat.models:
                continue
            cat.models[model] = name_for(model)
            cat.section[model] = cat.models[root] if model is not root else cat.models[model]
            for info in model.model_fields.values():
                for tp in _types_in(info.annotation):
                    users = cat.used_by.setdefault(tp, [])
                    if model not in users:
                        users.append(model)
                    if issubclass(tp, BaseModel):
                        queue.append(tp)
                    elif issubclass(tp, enum.Enum) and tp not in cat.enums:
                        cat.enums[tp] = name_for(tp)
    return cat


# --- rendering -----------------------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def prose(text: str) -> str:
    """Docstring or description text as Markdown: RST ``literals`` as code, HTML-special characters and table
    pipes escaped outside code spans."""
    text = text.replace("``", "`")
    out, pos = [], 0
    for match in _CODE_SPAN.finditer(text):
        out.append(escape(text[pos : match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def code(text: str) -> str:
    """``text`` as an inline code span (a pipe inside a code span does not split a Python-Markdown table cell)."""
    ticks = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def cell(text: str) -> str:
    """``text`` as Markdown on one line, for a table cell: lines joined by a space, paragraphs by a line break."""
    return "<br>".join(prose(" ".join(par.split())) for par in text.split("\n\n") if par.strip())


def docstring(obj: Any) -> str:
    """The object's own docstring (not an inherited one), cleaned."""
    doc = obj.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def attribute_docs(cls: type) -> dict[str, str]:
    """Docstrings written under class attributes (``name: T = ...`` then a string), by attribute name."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith(("pydantic", "builtins", "enum")):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for stmt, nxt in itertools.pairwise(body):
            target = None
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                target = stmt.target.id
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                target = stmt.targets[0].id
            if (
                target
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                out[target] = inspect.cleandoc(nxt.value.value)
    return out


_SCALARS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Decimal: "decimal",
    Path: "path",
    PurePath: "path",
    SecretStr: "secret string",
    datetime: "date-time (ISO 8601)",
    date: "date (YYYY-MM-DD)",
    timedelta: "[ISO 8601 duration](#types) (`PT6H`) or seconds",
    type(None): "null",
    Any: "any",
}


def _is_duration(metadata: list[Any]) -> bool:
    return any(getattr(getattr(m, "func", None), "__module__", "") == "sre_agent.config.durations" for m in metadata)


def type_text(annotation: Any, cat: Catalogue, metadata: list[Any] | None = None) -> str:
    """A field type as readers write it in YAML, with links to model and enum sections."""
    if _is_duration(metadata or []):
        return "[duration](#types)"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_text(args[0], cat, list(args[1:]))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_text(a, cat) for a in args)
    if origin is typing.Literal:
        return code(str(args[0])) if len(args) == 1 else "one of " + ", ".join(code(str(a)) for a in args)
    if origin in (list, tuple, set, frozenset):
        return "list of " + (type_text(args[0], cat) if args else "any")
    if origin is dict:
        return f"map of {type_text(args[0], cat)} → {type_text(args[1], cat)}" if args else "map"
    if isinstance(annotation, type) and (annotation in cat.models or annotation in cat.enums):
        return f"[{annotation.__name__}](#{cat.anchor(annotation)})"
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    return code(getattr(annotation, "__name__", str(annotation)))


def plain(value: Any) -> Any:
    """A default value as YAML would hold it."""
    from sre_agent.config.durations import format_duration

    if isinstance(value, BaseModel):
        return {
            (info.alias or name): plain(getattr(value, name))
            for name, info in type(value).model_fields.items()
            if name in value.model_fields_set or getattr(value, name) != info.get_default(call_default_factory=True)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def default_text(info: FieldInfo) -> str:
    """``required``, or the default as YAML."""
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        try:
            value = info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "computed"
    else:
        value = info.default
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel) and value == type(value)():
        return "its defaults"
    shown = plain(value)
    if shown is None:
        return code("null")
    if isinstance(shown, str):
        return code(shown) if shown else code('""')
    text = yaml.safe_dump(shown, default_flow_style=True, width=10**6, sort_keys=False, allow_unicode=True)
    return code(text.strip().removesuffix("...").strip())


def constraints(info: FieldInfo) -> list[str]:
    """The bounds and patterns pydantic checks, as short phrases."""
    texty = str in _scalar_args(info.annotation)
    unit = "character(s)" if texty else "item(s)"
    out = []
    for meta in info.metadata:
        for attr, symbol in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            bound = getattr(meta, attr, None)
            if isinstance(meta, annotated_types.BaseMetadata) and bound is not None:
                out.append(f"{symbol} {plain(bound)}")
        if isinstance(meta, annotated_types.MinLen) and meta.min_length:
            out.append(f"at least {meta.min_length} {unit}")
        if isinstance(meta, annotated_types.MaxLen):
            out.append(f"at most {meta.max_length} {unit}")
        pattern = getattr(meta, "pattern", None)
        if isinstance(pattern, str):
            out.append(f"pattern {code(pattern)}")
    return [c for c in out if c]


def _scalar_args(annotation: Any) -> set[Any]:
    """The outermost non-None types of ``annotation`` (``str | None`` → {str})."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return {a for a in typing.get_args(annotation) if a is not type(None)}
    return {annotation}


def model_section(model: type[BaseModel], cat: Catalogue) -> list[str]:
    """The Markdown of one model: heading, docstring, where it is used, the field table."""
    anchor = cat.models[model]
    lines = [f"### {model.__name__} {{#{anchor}}}", ""]
    doc = docstring(model)
    if doc:
        lines += [prose(doc), ""]
    users = [u for u in cat.used_by.get(model, []) if u is not model]
    if users:
        links = ", ".join(f"[{u.__name__}](#{cat.models[u]})" for u in users)
        lines += [f"Used in {links}.", ""]
    lines += [
        f"<small>`{model.__module__}.{model.__qualname__}`</small>",
        "",
        "| field | type | default | description |",
        "|---|---|---|---|",
    ]
    notes = attribute_docs(model)
    for name, info in model.model_fields.items():
        key = info.alias or name
        text = info.description or notes.get(name, "")
        extra = constraints(info)
        description = cell(text) if text else ""
        if extra:
            description = f"{description} ({'; '.join(extra)})" if description else "; ".join(extra)
        type_cell = type_text(info.annotation, cat, list(info.metadata))
        lines.append(f"| {code(key)} | {type_cell} | {default_text(info)} | {description or '—'} |")
    lines.append("")
    return lines


def enum_section(tp: type[enum.Enum], cat: Catalogue) -> list[str]:
    """The Markdown of one enumeration: its values and what each means."""
    lines = [f"### {tp.__name__} {{#{cat.enums[tp]}}}", ""]
    doc = docstring(tp)
    if doc:
        lines += [prose(doc), ""]
    users = cat.used_by.get(tp, [])
    if users:
        lines += ["Used in " + ", ".join(f"[{u.__name__}](#{cat.models[u]})" for u in users) + ".", ""]
    notes = attribute_docs(tp)
    lines += ["| value | meaning |", "|---|---|"]
    for member in tp:
        lines.append(f"| {code(str(member.value))} | {cell(notes.get(member.name, '')) or '—'} |")
    lines.append("")
    return lines


def render() -> str:
    """The whole page."""
    docs = documents()
    cat = catalogue([model for _, _, model, _ in docs])
    lines = [
        "# Configuration reference",
        "",
        "Generated from the pydantic models when this site was built (`docs/hooks/config_reference.py`): every",
        "document kind the agent reads, each model reachable from it, and each field with its type, default and",
        "description. Names are as written in YAML. Unknown fields are errors; every error is reported at once",
        "with its `file:line:col` (`sre-agent validate`). Any string may use `${VAR}` or `${VAR:-default}`.",
        "`sre-agent schema` prints the JSON Schemas of the agent config and of Threshold rules. The guides explain",
        "what the settings do: [Configuration](../configuration.md), [SLOs](../slos.md),",
        "[Alerting](../alerting.md), [Anomalies](../anomalies.md), [Cost](../cost.md),",
        "[Rule tests](../rule-tests.md).",
        "",
        "## Types {#types}",
        "",
        "| type | written as |",
        "|---|---|",
        "| duration | text of `<integer><unit>` parts, units `ms`, `s`, `m`, `h`, `d`, `w`: `90s`, `15m`, `6h`, `28d`,"
        " `1h30m`; a bare number is an error (it has no unit) |",
        "| ISO 8601 duration | a field typed `timedelta` without the agent's duration parser: `PT6H`, `P1D`, or a"
        " number of seconds |",
        "| decimal | a number, kept exactly as written (`99.9`, `3.00`) |",
        "| date-time | ISO 8601 with a zone (`2026-11-07T06:00:00Z`); where a `time_zone` field exists, the offset"
        " may be left out |",
        "| path | relative to the file that names it |",
        "| secret string | masked in logs, errors and output; usually `${VAR}` |",
        "",
        "## Documents {#documents}",
        "",
        "| document | read from | top-level model |",
        "|---|---|---|",
    ]
    for title, anchor, model, source in docs:
        name = code(title) if title.startswith("kind:") else title
        lines.append(f"| [{name}](#{anchor}) | {source} | [{model.__name__}](#{cat.models[model]}) |")
    lines.append("")
    for title, anchor, root, _ in docs:
        lines += [f"## {title} {{#{anchor}}}", ""]
        for model, section in cat.section.items():
            if section == cat.models[root]:
                lines += model_section(model, cat)
    if cat.enums:
        lines += ["## Enumerations {#enumerations}", ""]
        for tp in cat.enums:
            lines += enum_section(tp, cat)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # preview: python docs/hooks/config_reference.py > /tmp/config.md
    print(render())
