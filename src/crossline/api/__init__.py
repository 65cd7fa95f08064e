"""The HTTP API (issue 6): lenders' systems, the borrower portal and the risk console
talk to crossline through it. ``create_app`` builds it over an engine; ``crossline
serve`` runs it."""

from crossline.api.app import create_app

__all__ = ["create_app"]
