// Pieces every page uses: its header, figures that hold a chart, scrollable tables, figures with their value.

import { h, newId } from "./dom.js";
import { format } from "./format.js";

/** The page's <h1> (focusable, so navigation can move focus to it) and a one-line lead. */
export function pageHeader(title, lead) {
  return h("header", { class: "page-header" }, h("h1", { tabindex: "-1" }, title), lead ? h("p", { class: "lead" }, lead) : null);
}

/** A section with its own heading. */
export function section(title, ...children) {
  const id = newId("s");
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

const builders = new WeakMap();

/** A chart in a <figure>, with a caption and a legend of [label, class] pairs. `build(width)` draws the chart's
 * SVG; drawCharts() calls it once the figure is on the page (and again when the window is resized), so the
 * chart fits the width it has instead of being scaled down. */
export function chartFigure(caption, build, legend = []) {
  const id = newId("fig");
  const fig = h(
    "figure",
    { class: "chart-figure" },
    h("div", { class: "chart-slot" }),
    h(
      "figcaption",
      { id },
      caption,
      legend.length
        ? h("ul", { class: "legend" }, legend.map(([label, cls]) => h("li", {}, h("span", { class: ["swatch", cls], "aria-hidden": "true" }), label)))
        : null,
    ),
  );
  builders.set(fig, build);
  return fig;
}

/** Draw (or redraw) every chart figure under `root` at the width its slot has now. */
export function drawCharts(root) {
  for (const fig of root.querySelectorAll("figure.chart-figure")) {
    const build = builders.get(fig);
    const slot = fig.querySelector(".chart-slot");
    if (!build || !slot) continue;
    const width = Math.round(Math.max(280, Math.min(960, slot.clientWidth || 320)));
    if (slot.dataset.width === String(width)) continue;
    const chart = build(width);
    chart.setAttribute("aria-describedby", fig.querySelector("figcaption").id);
    slot.dataset.width = String(width);
    slot.replaceChildren(chart);
  }
}

/** A table inside a region that scrolls sideways on narrow screens (the page itself never does). */
export function tableWrap(label, table) {
  return h("div", { class: "table-wrap", role: "region", "aria-label": label, tabindex: "0" }, table);
}

/** A table: columns [{label, num}] and rows of cells (nodes or text). */
export function table(caption, columns, rows, { rowClass } = {}) {
  return h(
    "table",
    {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
    h("tbody", {}, rows.map((cells, i) =>
      h("tr", { class: rowClass ? rowClass(i) : null },
        cells.map((cell, j) => (j === 0 && columns[0].rowHeader
          ? h("th", { scope: "row" }, cell)
          : h("td", { class: columns[j].num ? "num" : null }, cell)))))),
  );
}

/** A number as shown on screen, carrying the API's raw value (data-value) and its metric name for tests and copy. */
export function figure(kind, value, metric) {
  return h("span", { class: "figure", "data-metric": metric || null, "data-kind": kind,
    "data-value": value === null || value === undefined ? "" : String(value) },
    format(kind, value));
}

/** A headline number: label above, value below. */
export function stat(label, kind, value, metric, note) {
  return h("div", { class: "stat" }, h("span", { class: "stat-label" }, label), figure(kind, value, metric),
    note ? h("span", { class: "stat-note" }, note) : null);
}

/** A band as a badge with its word (colour is never the only signal). */
export function bandBadge(band) {
  return band ? h("span", { class: ["badge", `band-${band}`] }, band) : h("span", { class: "badge" }, "no score");
}

/** "Loading…" text for a region still waiting on the API. */
export function loading(text = "Loading…") {
  return h("p", { class: "loading" }, text);
}
