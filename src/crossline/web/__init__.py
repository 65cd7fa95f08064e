"""The borrower portal and the risk console: pages rendered on the server, over the same
functions the API's routes run, so a page and an API call can never disagree about what
a caller may see or do.

Pages need no JavaScript build: forms post back to the server, and the only scripts
are plotly.js (served from the installed package, never a CDN) and a few lines that
draw the charts a page embeds as JSON. Every page is sent with a Content-Security-Policy
that allows scripts from this server only.
"""

from crossline.web.site import install

__all__ = ["install"]
