"""crossline: one borrower, many credit lines, one risk view."""

__version__ = "0.1.0"
