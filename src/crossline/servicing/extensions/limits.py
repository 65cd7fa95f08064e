"""How far a loan may be extended: 《贷款通则》 Art. 12 (DOMAIN §5).

Art. 12 limits the TOTAL of all extensions of one loan by the class of its original
term: a short-term loan (≤ 12 months) by at most the original term, a medium-term one
(12 < term ≤ 60 months) by at most half of it, a long-term one by at most 3 years.
"""

from __future__ import annotations

from dataclasses import dataclass

from crossline.servicing.errors import RefusedError

SHORT_TERM_MAX_MONTHS = 12
MEDIUM_TERM_MAX_MONTHS = 60
LONG_TERM_EXTENSION_MONTHS = 36

RULE = "extension_limit_art12"
"""The refusal code that names the rule."""


@dataclass(frozen=True, slots=True)
class TermClass:
    """A loan's Art. 12 class and the total extension it allows, in months."""

    name: str
    maximum: int


def term_class(original_months: int) -> TermClass:
    """The class of a loan by its original term.

    Half of an odd medium term is rounded down: extensions are whole months, and
    rounding up would allow half a month more than the rule does.
    """
    if original_months <= SHORT_TERM_MAX_MONTHS:
        return TermClass("short-term", original_months)
    if original_months <= MEDIUM_TERM_MAX_MONTHS:
        return TermClass("medium-term", original_months // 2)
    return TermClass("long-term", LONG_TERM_EXTENSION_MONTHS)


def check_extension(original_months: int, already: int, months: int) -> None:
    """Refuse ``months`` more when the loan's extensions would total more than Art. 12 allows."""
    cls = term_class(original_months)
    if already + months > cls.maximum:
        left = max(cls.maximum - already, 0)
        raise RefusedError(
            RULE,
            f"《贷款通则》 Art. 12: a {cls.name} loan (original term {original_months} months) "
            f"may be extended by at most {cls.maximum} months in total; already extended "
            f"{already}, requested {months}, at most {left} more",
        )
