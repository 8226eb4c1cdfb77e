"""Wraps a server-rendered body in the packaged page template with its stylesheet inlined.

The page is self-contained (no script, no CDN, no external file), so `dashboard --out` can be
opened offline and the served page needs nothing else.
"""

from __future__ import annotations

import html
from importlib import resources
from string import Template


def render_page(title: str, subtitle: str, body: str) -> str:
    package = resources.files("worktally.aggregator")
    template = Template(package.joinpath("templates/page.html").read_text(encoding="utf-8"))
    style = package.joinpath("static/worktally.css").read_text(encoding="utf-8")
    return template.substitute(title=html.escape(title), subtitle=html.escape(subtitle),
                               style=style, body=body)


def table(headers: list[str], rows: list[list[object]],
          row_classes: list[str] | None = None) -> str:
    """An HTML table; every cell is escaped, numbers are right-aligned. `row_classes` gives
    each row a class (`uninformative` greys it), "" for none."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for cell in row:
            cls = ' class="num"' if isinstance(cell, int | float) else ""
            cells.append(f"<td{cls}>{html.escape(str(cell))}</td>")
        row_class = row_classes[i] if row_classes else ""
        attr = f' class="{html.escape(row_class)}"' if row_class else ""
        body.append(f"<tr{attr}>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"
