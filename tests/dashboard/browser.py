"""Driving the dashboard in the tests: sign in, open a route and wait for it, read figures, walk with Tab."""

from pathlib import Path
from typing import Any

READY = "main[data-state=ready]"


def sign_in(page: Any, key: str, route: str = "interventions") -> None:
    """Open /app/ at `route`, paste the key, submit, and wait for that page."""
    page.goto(f"/app/#/{route}")
    page.fill("input[name=key]", key)
    page.keyboard.press("Enter")
    page.wait_for_selector(READY)


def open_route(page: Any, route: str) -> None:
    """Go to `#/route` through the address fragment, as a link would, and wait until that page has rendered."""
    before = page.get_attribute("main", "data-render")
    page.evaluate("route => { location.hash = route; }", f"#/{route}")
    wait_for_render(page, before)


def wait_for_render(page: Any, before: str | None) -> None:
    """Wait until a render newer than `before` has finished (ready, or error to fail the test with its text)."""
    page.wait_for_function(
        "before => { const m = document.querySelector('main');"
        " return m.dataset.render !== before && ['ready', 'error'].includes(m.dataset.state); }",
        arg=before,
    )
    assert page.get_attribute("main", "data-state") == "ready", page.inner_text("main")


def figures(scope: Any, metric: str) -> list[tuple[float | None, str, str]]:
    """(value, kind, text on screen) of every figure of `metric` under `scope` (a page or a locator), in order."""
    return [
        (number(el.get_attribute("data-value")), el.get_attribute("data-kind"), el.inner_text())
        for el in scope.locator(f".figure[data-metric='{metric}']").element_handles()
    ]


def number(data_value: str | None) -> float | None:
    """A figure's data-value back as the API's number (None for an empty one: a null)."""
    return float(data_value) if data_value else None


def column(page: Any, table: str, attribute: str) -> list[str | None]:
    """An attribute of every body row of `table[data-table=…]`, in order."""
    return [
        row.get_attribute(attribute) for row in page.locator(f"table[data-table='{table}'] tbody tr").element_handles()
    ]


# Everything a keyboard user must be able to reach: shown (not in a closed <details>), enabled, in the tab order.
CONTROLS_JS = """() => [...document.querySelectorAll(
  'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])')]
  .filter(el => !el.disabled && el.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true }))"""


def walk_with_tab(page: Any) -> dict[str, Any]:
    """Press Tab through the page from its top; report the controls never focused and those focused invisibly."""
    page.evaluate(
        """() => {
          window.__focus = { seen: new Set(), unmarked: [] };
          document.addEventListener('focusin', (e) => {
            window.__focus.seen.add(e.target);
            const style = getComputedStyle(e.target);
            if (style.outlineStyle === 'none' || parseFloat(style.outlineWidth) === 0) {
              window.__focus.unmarked.push(e.target.outerHTML.slice(0, 80));
            }
          });
          document.activeElement?.blur();
          window.scrollTo(0, 0);
        }"""
    )
    count = page.evaluate(f"({CONTROLS_JS})().length")
    page.locator("body").focus()
    for _ in range(count + 5):
        page.keyboard.press("Tab")
    return page.evaluate(
        f"""() => {{
          const controls = ({CONTROLS_JS})();
          return {{
            controls: controls.length,
            missed: controls.filter(el => !window.__focus.seen.has(el)).map(el => el.outerHTML.slice(0, 100)),
            unmarked: window.__focus.unmarked,
          }};
        }}"""
    )


def horizontal_overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0 when nothing scrolls sideways)."""
    return int(
        page.evaluate("() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - innerWidth")
    )


def charts_drawn(page: Any) -> list[dict[str, Any]]:
    """Every chart on the page: its name and how many marks (lines, bars, dots) it has."""
    return page.evaluate(
        """() => [...document.querySelectorAll('svg.chart')].map(svg => ({
          name: svg.dataset.chart, marks: svg.querySelectorAll('polyline, rect, circle').length,
          width: svg.getBoundingClientRect().width }))"""
    )


def screenshot(page: Any, folder: Path, name: str) -> Path:
    """A full-page PNG in `folder` (an artefact of the run)."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
