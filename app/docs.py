"""The interactive API docs (/docs and /redoc), served offline: their assets come from an installed package.

FastAPI's default pages load Swagger UI and ReDoc from a CDN, so they are blank without internet access. The
`fastapi-offline` package (MIT) ships `swagger-ui-bundle.js`, `swagger-ui.css` (Swagger UI, Apache-2.0),
`redoc.standalone.js` (ReDoc, MIT) and a favicon; they are served here under /docs/assets. Docs stay open.
"""

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs/assets"
# Swagger UI's validator badge would call validator.swagger.io: off, so the page makes no outside request.
_SWAGGER_PARAMETERS = {"validatorUrl": None}


def assets_dir() -> Path:
    """The folder of the packaged Swagger UI and ReDoc assets."""
    return Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve Swagger UI at `docs_url` (and `/` redirects there) and ReDoc at `redoc_url` from local assets.

    Create the app with `docs_url=None, redoc_url=None`, so FastAPI's CDN pages are not registered too.
    """
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
    oauth2_redirect_url = f"{docs_url}/oauth2-redirect"

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> RedirectResponse:
        """A browser opening the bare address lands on the docs, not on a 404."""
        return RedirectResponse(f"{request.scope.get('root_path', '')}{docs_url}")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=_SWAGGER_PARAMETERS,
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )


def prefill_examples(document: dict[str, Any]) -> None:
    """Copy schema examples to where Swagger UI pre-fills a request from, so "Try it out" starts from a working one.

    The schemas carry their examples as JSON Schema `examples` (a model's `json_schema_extra`, a field's
    `Field(examples=...)`), but Swagger UI fills a parameter only from the parameter's `example` and offers a
    body only from the media type's `examples`. Each parameter gets its schema's first example; each JSON body
    its component's examples.
    """
    schemas = document.get("components", {}).get("schemas", {})
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                examples = parameter.get("schema", {}).get("examples")
                if examples and "example" not in parameter:
                    parameter["example"] = examples[0]
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not content or "examples" in content:
                continue
            schema = content.get("schema", {})
            refs = [s["$ref"] for s in [schema, *schema.get("anyOf", [])] if "$ref" in s]  # `Model | None` too
            body_examples = schemas.get(refs[0].rsplit("/", 1)[-1], {}).get("examples") if refs else None
            if body_examples:
                content["examples"] = {f"example {i}": {"value": e} for i, e in enumerate(body_examples, start=1)}
