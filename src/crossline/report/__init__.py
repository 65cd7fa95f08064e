"""The portfolio report: what a book did, measured from its own tables, as one HTML file.

``build_report`` reads the book once, measures what several parts share once
(``sections.measure``) and returns the key figures and the sections; ``render``
turns them into a self-contained page. The simulator's demo writes it after a
run, and ``crossline report`` on any database.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from crossline.report.book import EmptyBookError, read_book
from crossline.report.page import render
from crossline.report.sections import Section, key_figures, measure, sections
from crossline.sim.traits import CALIBRATION_SOURCES

__all__ = ["EmptyBookError", "Report", "build_report"]

METHOD_NOTES: tuple[str, ...] = (
    "Every figure is computed from the platform's own tables: receivable postings in the "
    "journal, bucket and limit events in the outbox, stored decisions, bureau records and "
    "month-end score snapshots.",
    "Buckets: M1 is 1-30 days past due, M2 31-60, and so on to M7+ beyond 180. A line is "
    "as late as its latest loan.",
    "Contagion counts only actions taken on a line while that line was itself current, so "
    "a line's own delinquency is never counted as spread from another.",
)


@dataclass(frozen=True, slots=True)
class Report:
    """A book's key figures and sections, ready to print or render."""

    title: str
    figures: list[tuple[str, str]]
    sections: list[Section]

    def html(self) -> str:
        return render(
            self.title, self.figures, self.sections, [*METHOD_NOTES, *CALIBRATION_SOURCES]
        )


def build_report(conn: sa.Connection, title: str = "crossline portfolio report") -> Report:
    """Measure the book behind ``conn``; raises ``EmptyBookError`` if no day has closed."""
    book = read_book(conn)
    measured = measure(book)
    return Report(
        title=title, figures=key_figures(book, measured), sections=sections(book, measured)
    )
