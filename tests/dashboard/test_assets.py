"""The dashboard's files: shipped inside the package, served with a strict CSP, no inline script, no CDN, no HTML
built from API text (no browser needed; the browser tests are in test_browser.py)."""

import re
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.dashboard import CONTENT_SECURITY_POLICY, static_dir

STATIC = files("app.dashboard") / "static"
ALL_FILES = sorted(p.relative_to(static_dir()).as_posix() for p in static_dir().rglob("*") if p.is_file())
MODULES = [name for name in ALL_FILES if name.endswith(".js")]
# `import … from "./x.js"`, `import("./pages/x.js")` and `export … from "./x.js"`: every module a module loads.
IMPORT = re.compile(r"""(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}/[^"']+)["']""")


def text(name: str) -> str:
    """A dashboard file read through importlib.resources, as an installed wheel would give it."""
    return (STATIC / name).read_text(encoding="utf-8")


def code_only(source: str) -> str:
    """A module without its comments (which may name what the code avoids)."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    return re.sub(r"^\s*//.*$", "", source, flags=re.MULTILINE)


class TestPackaging:
    def test_the_package_data_globs_cover_every_file(self, repo_root: Path) -> None:
        config = tomllib.loads((repo_root / "pyproject.toml").read_text())
        globs = config["tool"]["setuptools"]["package-data"]["app.dashboard"]
        package = static_dir().parent
        shipped = {p.relative_to(static_dir()).as_posix() for g in globs for p in package.glob(g) if p.is_file()}
        assert shipped == set(ALL_FILES)

    def test_the_page_and_every_module_it_loads_are_resources_of_the_package(self) -> None:
        page = text("index.html")
        entry = re.findall(r'<script type="module" src="([^"]+)"></script>', page)
        assert entry == ["js/main.js"]
        for href in re.findall(r'<link [^>]*href="([^"]+)"', page):
            assert (STATIC / href).is_file(), href
        seen, todo = set(), ["js/main.js"]
        while todo:
            name = todo.pop()
            seen.add(name)
            for target in IMPORT.findall(text(name)):
                resolved = (Path(name).parent / target).as_posix()
                resolved = re.sub(r"[^/]+/\.\./", "", resolved.replace("/./", "/"))
                assert (STATIC / resolved).is_file(), f"{name} imports {target}: missing"
                if resolved not in seen:
                    todo.append(resolved)
        assert seen == set(MODULES), "a module nothing imports, or one the walk missed"


class TestNoInlineCodeNoCdn:
    def test_the_page_has_no_inline_script_style_or_handler(self) -> None:
        page = text("index.html")
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
        assert re.search(r"\son[a-z]+\s*=", page) is None
        assert re.search(r"\sstyle\s*=", page) is None
        assert "<style" not in page

    @pytest.mark.parametrize("name", ALL_FILES)
    def test_no_file_loads_anything_from_another_origin(self, name: str) -> None:
        urls = re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text(name), re.IGNORECASE)
        assert [u for u in urls if u.lower() != "http://www.w3.org"] == []  # the SVG namespace name, never fetched

    @pytest.mark.parametrize("name", MODULES)
    def test_no_module_parses_text_as_html_or_code(self, name: str) -> None:
        """API text goes in as text nodes (dom.js); nothing parses a string as markup or script."""
        code = code_only(text(name))
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                     "setAttribute(\"style\"", "setTimeout(\"", "javascript:"):  # fmt: skip
            assert sink not in code, f"{name} uses {sink}"

    def test_the_key_is_read_from_session_storage_only(self) -> None:
        """Not localStorage (it would outlive the tab), not a cookie."""
        code = "\n".join(text(name) for name in MODULES)
        assert "localStorage" not in code
        assert "document.cookie" not in code
        assert code.count("sessionStorage.setItem") == 1


class TestServing:
    def test_app_redirects_to_the_folder(self, anonymous: TestClient) -> None:
        response = anonymous.get("/app", follow_redirects=False)
        assert response.status_code in (307, 308)
        assert response.headers["location"].endswith("/app/")

    def test_the_page_is_served_with_a_strict_policy(self, anonymous: TestClient) -> None:
        response = anonymous.get("/app/")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.text == text("index.html")
        policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
        assert policy["default-src"] == "'none'"
        assert policy["script-src"] == "'self'"
        assert policy["style-src"] == "'self'"
        assert policy["connect-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        assert "unsafe" not in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"

    @pytest.mark.parametrize("name", ALL_FILES)
    def test_every_file_is_served_with_the_policy_and_its_type(self, anonymous: TestClient, name: str) -> None:
        response = anonymous.get(f"/app/{name}")
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        expected = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml", "html": "text/html"}
        assert response.headers["content-type"].startswith(expected[name.rsplit(".", 1)[1]])

    def test_an_unknown_file_is_a_404_problem(self, anonymous: TestClient) -> None:
        response = anonymous.get("/app/js/nope.js")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")

    def test_the_dashboard_is_not_in_the_api_document(self, anonymous: TestClient) -> None:
        assert not [path for path in anonymous.get("/openapi.json").json()["paths"] if path.startswith("/app")]
