"""The committed OpenAPI document equals what the app serves.

Regenerate it with `csroi openapi --output openapi/openapi.json`.
"""

import json
from pathlib import Path

from app.main import create_app


def test_committed_openapi_matches_the_app(repo_root: Path) -> None:
    committed = json.loads((repo_root / "openapi" / "openapi.json").read_text())
    assert committed == create_app().openapi(), (
        "openapi/openapi.json is stale: run `csroi openapi --output openapi/openapi.json` and commit it"
    )


def test_every_v1_operation_documents_its_problems() -> None:
    for path, operations in create_app().openapi()["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
            for status in ("401", "403", "422") if takes_input else ("401", "403"):
                content = operation["responses"].get(status, {}).get("content", {})
                assert "application/problem+json" in content, (method, path, status)
