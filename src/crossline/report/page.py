"""One self-contained HTML file: the key figures, each section's chart and reading, and
the notes on where the simulated behaviour's figures come from.

plotly.js is written into the page once, inline: the report opens offline,
from a file, with no CDN (DESIGN: charts).
"""

from __future__ import annotations

from html import escape

import plotly.offline

from crossline.report.sections import Section

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #1f2933; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; }
table.figures { border-collapse: collapse; margin: 1rem 0 2rem; }
table.figures td { padding: 0.25rem 1rem 0.25rem 0; border-bottom: 1px solid #e4e7eb; }
section { margin: 2.5rem 0; }
p.reading { font-size: 1.05rem; background: #f5f7fa; padding: 0.6rem 0.9rem;
            border-left: 4px solid #3e7bfa; }
footer { color: #52606d; font-size: 0.9rem; }
"""


def _figures_table(figures: list[tuple[str, str]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td><strong>{escape(value)}</strong></td></tr>"
        for name, value in figures
    )
    return f'<table class="figures">{rows}</table>'


def _section(section: Section) -> str:
    chart = section.figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=f"chart-{section.key}",
        config={"displaylogo": False, "responsive": True},
    )
    return (
        f'<section id="{section.key}"><h2>{escape(section.title)}</h2>{chart}'
        f'<p class="reading">{escape(section.reading)}</p></section>'
    )


def render(
    title: str, figures: list[tuple[str, str]], sections: list[Section], notes: list[str]
) -> str:
    """The whole report as one HTML document."""
    notes_html = "".join(f"<li>{escape(note)}</li>" for note in notes)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style>"
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script></head>'
        f"<body><h1>{escape(title)}</h1>{_figures_table(figures)}"
        + "".join(_section(section) for section in sections)
        + f"<footer><h2>Notes</h2><ul>{notes_html}</ul></footer></body></html>\n"
    )
