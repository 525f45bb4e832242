"""Show minirpc's real source in a notebook: highlighted, numbered, linked.

The lessons never copy library code into a cell (a copy goes stale the day
the library changes).  They quote it instead::

    from minirpc.teaching import show_source
    show_source(minirpc.registry.Registry.register)      # a method
    show_source(minirpc.codec.ServerCodec)                # a class
    show_source(minirpc.jsonrpc, start="def encode_request", end="def parse_request")
    show_source(minirpc.registry, docstring=True)         # just the module docstring

``show_source`` returns a ``Source`` object.  Jupyter displays it through its
``_repr_html_`` (colours from pygments when installed, plain ``<pre>`` if
not, real line numbers, and a link that opens the file); ``repr()`` is a
one-line title, which is what plain consoles and nbval see.  Nothing here
needs IPython.
"""

from __future__ import annotations

import html
import inspect
import os
from dataclasses import dataclass

__all__ = ["Source", "show_source"]

BEGIN, END = "<!-- minirpc-source -->", "<!-- /minirpc-source -->"  # notebooks/sanitize.cfg matches these


@dataclass
class Source:
    """A piece of a minirpc file: where it is and what it says."""

    title: str  # "minirpc.registry.Registry.register"
    path: str  # the file on disk
    first_line: int  # 1-based line number of ``text``'s first line
    text: str

    @property
    def last_line(self) -> int:
        return self.first_line + self.text.count("\n") - (1 if self.text.endswith("\n") else 0)

    def relative_path(self) -> str:
        """The file relative to the package's parent, e.g. ``minirpc/registry.py``."""
        parts = self.path.replace(os.sep, "/").split("/")
        return "/".join(parts[parts.index("minirpc"):]) if "minirpc" in parts else self.path

    def __repr__(self) -> str:
        return f"{self.title}  ({self.relative_path()}, lines {self.first_line}-{self.last_line})"

    def _repr_html_(self) -> str:
        link = os.path.relpath(self.path).replace(os.sep, "/")  # relative to the notebook: JupyterLab opens it
        header = (f'<div style="font-family:monospace;font-size:90%;margin-bottom:2px">'
                  f'<a href="{html.escape(link)}" target="_blank">{html.escape(self.relative_path())}</a>'
                  f' lines {self.first_line}&ndash;{self.last_line}: <b>{html.escape(self.title)}</b></div>')
        return f"{BEGIN}\n{header}\n{_highlight(self.text, self.first_line)}\n{END}"


def _highlight(text: str, first_line: int) -> str:
    style = "max-height:32em;overflow:auto;border-left:3px solid #8ab;padding-left:6px"
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:  # pygments is optional: plain text with line numbers
        width = len(str(first_line + text.count("\n")))
        numbered = "\n".join(f"{n:>{width}}  {line}" for n, line in enumerate(text.splitlines(), first_line))
        return f'<pre style="{style}">{html.escape(numbered)}</pre>'
    formatter = HtmlFormatter(noclasses=True, linenos="inline", linenostart=first_line, style="friendly", nobackground=True)
    return f'<div style="{style}">{highlight(text, PythonLexer(), formatter)}</div>'


def show_source(obj: object, *, start: str | None = None, end: str | None = None, docstring: bool = False) -> Source:
    """The source of a minirpc module, class, function or method.

    ``start``/``end``: keep only the lines from the first one containing
    ``start`` up to (not including) the first later one containing ``end``.
    ``docstring=True``: only the docstring of a module (or of the object).
    """
    title = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", repr(obj))
    module = inspect.getmodule(obj)
    if module is not None and module is not obj and not title.startswith(module.__name__):
        title = f"{module.__name__}.{title}"
    path = inspect.getsourcefile(obj) or ""
    lines, first = inspect.getsourcelines(obj)
    first = max(first, 1)  # a module starts at line 0 for inspect
    if docstring:
        lines, first = _docstring_lines(lines, first)
    if start is not None or end is not None:
        title += " (excerpt)"
    if start is not None:
        i = _find(lines, start, 0, title)
        lines, first = lines[i:], first + i
    if end is not None:
        j = _find(lines, end, 1, title)
        lines = lines[:j]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return Source(title, path, first, "".join(lines))


def _find(lines: list[str], needle: str, begin: int, title: str) -> int:
    for i in range(begin, len(lines)):
        if needle in lines[i]:
            return i
    raise ValueError(f"{needle!r} not found in the source of {title}")


def _docstring_lines(lines: list[str], first: int) -> tuple[list[str], int]:
    """The lines of the first triple-quoted string in ``lines``."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        for quote in ('"""', "'''"):
            if stripped.startswith(quote):
                if stripped.count(quote) >= 2 and len(stripped) > 3:
                    return lines[i:i + 1], first + i
                for j in range(i + 1, len(lines)):
                    if quote in lines[j]:
                        return lines[i:j + 1], first + i
    raise ValueError("no docstring found")
