"""Charts of the quality report as inline SVG, drawn by matplotlib's SVG backend, offline (the
progress report lays out and draws its own: `progress_charts.py`).

Figures are `matplotlib.figure.Figure` objects (no pyplot: no global state, no GUI backend). Text
stays text (`svg.fonttype: none`), so Vietnamese diacritics use the reader's fonts and the page stays
small. The XML prolog, the DOCTYPE (which names a DTD by URL), the metadata block and the namespace
declarations are dropped: inline SVG in HTML needs none of them, and the page then names no URL.
"""

from __future__ import annotations

import functools
import io
import re

RC = {"svg.fonttype": "none", "svg.hashsalt": "ntm-report", "font.size": 9,
      "axes.spines.top": False, "axes.spines.right": False}
ERROR, WARNING, OK = "#c62828", "#ef8f00", "#2e7d32"
_NAMESPACES = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


def styled(draw):
    """Draw inside the reports' matplotlib settings: they apply when artists are made and saved."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(RC):
            return draw(*args, **kwargs)
    return wrapper


def figure(width: float, height: float):
    """A figure of `width` × `height` inches with one axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.add_subplot()


def svg(fig, label: str) -> str:
    """The figure as an inline `<svg>` element with an accessible label and no external reference,
    its margins fitted to its labels."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight",
                metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    start, end = text.find("<metadata>"), text.find("</metadata>")
    if start != -1 and end != -1:
        text = text[:start] + text[end + len("</metadata>"):]
    head, rest = text.split(">", 1)
    head = _NAMESPACES.sub("", head)
    label = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return f'{head} role="img" aria-label="{label}">{rest}'
