"""What the two reference hooks share: adding a generated page to the site, and escaping text for Markdown.

Imported by ``config_reference.py`` and ``cli_reference.py`` (MkDocs puts a hook's folder on ``sys.path`` while it
loads the hook).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files


def add_generated_page(files: Files, config: MkDocsConfig, page: str, render: Callable[[], str]) -> Files:
    """Add the virtual page ``page`` (``render()``'s Markdown) to the site's files, with the project importable."""
    root = Path(config.config_file_path).parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    files.append(File.generated(config, page, content=render()))
    return files


def escape(text: str) -> str:
    """``text`` with HTML-special characters, table pipes and emphasis marks escaped."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("*", "\\*")
        .replace("_", "\\_")
    )
