"""MkDocs hook: the command-line reference, generated from the agent's argparse parser at build time.

Registered in mkdocs.yml (``hooks:``). On ``on_files`` it builds ``sre_agent.cli.parser.build_parser()`` (the
parser ``sre-agent --help`` renders; it imports nothing else of the agent), walks every subcommand and adds a
virtual page, ``reference/cli.md``: per command its one-line help, description, usage and a table of its
arguments (name, value, default, help). Nothing is written to ``docs/`` or to ``sre_agent/``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from markdown_text import add_generated_page, escape
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files

PAGE = "reference/cli.md"
GLOBAL_GROUP = "global options (before or after the command)"
WIDTH = "80"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated CLI reference to the site's files."""
    return add_generated_page(files, config, PAGE, render)


def prose(text: str) -> str:
    """Help text as Markdown: `code` spans kept, HTML-special characters, pipes and emphasis marks escaped."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: no code spans
        return escape(text)
    return "".join(part if i % 2 else escape(part) for i, part in enumerate(parts))


def code(text: str) -> str:
    """``text`` as an inline code span (a pipe inside a code span does not split a Python-Markdown table cell)."""
    return "`" + text + "`"


def anchor(path: list[str]) -> str:
    """The section id of a command: ``cmd-alerts-list``."""
    return "cmd-" + "-".join(path) if path else "cmd"


def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each direct subcommand, in the order they were added."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                out.append((name, helps.get(name, ""), sub))
    return out


def _value(action: argparse.Action) -> str:
    if action.nargs == 0:
        return "flag"
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return "one of " + ", ".join(code(str(c)) for c in action.choices)
    metavar = action.metavar or (action.dest.upper() if action.option_strings else action.dest)
    kind = getattr(action.type, "__name__", None)
    shown = code(str(metavar))
    if kind and kind not in ("str", "<lambda>") and not kind.startswith("_"):
        shown += f" ({kind})"
    if action.nargs in ("*", "+"):
        shown += " …" + (" (one or more)" if action.nargs == "+" else " (any number)")
    return shown


def _default(action: argparse.Action) -> str:
    if action.required and action.nargs not in ("*", "?"):
        return "required"
    default = action.default
    if default in (None, False, argparse.SUPPRESS) or action.nargs == 0:
        return "—"
    if isinstance(default, list) and not default:
        return "—"
    from sre_agent.config.durations import format_duration

    if hasattr(default, "total_seconds"):
        default = format_duration(default)
    return code(str(default))


def argument_rows(parser: argparse.ArgumentParser) -> list[str]:
    """One table row per argument of ``parser`` (not --help, not the global options repeated per command)."""
    rows = []
    for group in parser._action_groups:
        if group.title == GLOBAL_GROUP:
            continue
        for action in group._group_actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            name = ", ".join(code(o) for o in action.option_strings) or code(str(action.metavar or action.dest))
            rows.append(f"| {name} | {_value(action)} | {_default(action)} | {prose(action.help or '')} |")
    return rows


def command_section(path: list[str], summary: str, parser: argparse.ArgumentParser, depth: int) -> list[str]:
    """The Markdown of one command and, after it, its subcommands."""
    title = " ".join(["sre-agent", *path])
    lines = [f"{'#' * min(depth, 4)} `{title}` {{#{anchor(path)}}}", ""]
    if summary:
        lines += [prose(summary[0].upper() + summary[1:]) + ".", ""]
    if parser.description and parser.description != summary:
        lines += [prose(parser.description), ""]
    lines += ["```text", parser.format_usage().strip(), "```", ""]
    rows = argument_rows(parser)
    if rows:
        lines += ["| argument | value | default | help |", "|---|---|---|---|", *rows, ""]
    children = subcommands(parser)
    if children:
        links = ", ".join(f"[`{name}`](#{anchor([*path, name])})" for name, _, _ in children)
        lines += [f"Subcommands: {links}.", ""]
        for name, help_text, sub in children:
            lines += command_section([*path, name], help_text, sub, depth + 1)
    return lines


def render() -> str:
    """The whole page."""
    os.environ["COLUMNS"] = WIDTH  # argparse wraps usage at the terminal's width: make it the same everywhere
    from sre_agent.cli.parser import EPILOG, build_parser

    parser = build_parser()
    commands = subcommands(parser)
    lines: list[Any] = [
        "# CLI reference",
        "",
        "Generated from the argparse parser when this site was built (`docs/hooks/cli_reference.py`); the same text",
        "as `sre-agent COMMAND --help`. [CLI overview](../cli.md) says which guide explains each command.",
        "",
        "```text",
        parser.format_usage().strip(),
        "```",
        "",
        prose(parser.description or ""),
        "",
        "## Global options {#global-options}",
        "",
        "Accepted before or after the command (`sre-agent -c prod.yaml status` and `sre-agent status -c prod.yaml`",
        "are the same).",
        "",
        "| argument | value | default | help |",
        "|---|---|---|---|",
        *argument_rows(parser),
        "",
        "```text",
        EPILOG,
        "```",
        "",
        "## Commands {#commands}",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for name, help_text, _ in commands:
        lines.append(f"| [`{name}`](#{anchor([name])}) | {prose(help_text)} |")
    lines.append("")
    for name, help_text, sub in commands:
        lines += command_section([name], help_text, sub, 3)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # preview: python docs/hooks/cli_reference.py > /tmp/cli.md
    print(render())
