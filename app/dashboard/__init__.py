"""The dashboard at /app (SPEC §12): static HTML, CSS and ES modules shipped inside the package, no build step.

Every figure the pages show is read from the public /v1 API in the browser, with the API key the user signs in
with (kept in sessionStorage, sent only as `Authorization: Bearer`, never in a URL). The files are served with a
strict Content-Security-Policy: scripts and styles only from this origin (no inline script or style), requests
only to this origin, no framing.
"""

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

DASHBOARD_URL = "/app"
# `style-src 'self'` also forbids style="" attributes in markup; the scripts size things through the CSSOM
# (element.style), which CSP allows. img-src data: is for nothing today but keeps favicons from erroring.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # The page is a shell that holds no data; revalidating keeps a new release's modules in step with each other.
    "Cache-Control": "no-cache",
}


def static_dir() -> Path:
    """The folder of the dashboard's files, inside the installed package."""
    return Path(str(files("app.dashboard") / "static"))


class DashboardFiles(StaticFiles):
    """StaticFiles (index.html for the folder) with the dashboard's security headers on every answer."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard at /app/ (/app redirects there); it is open, like /docs: the data needs a key."""
    app.mount(DASHBOARD_URL, DashboardFiles(directory=static_dir(), html=True), name="dashboard")
