// Scorecard: one month's balanced scorecard (GET /v1/scorecards/{month}) in its four quadrants, each figure with
// the previous month, its target and status, and a sparkline of its last 12 months (the value of the 12 monthly
// cards ending with this one).

import { get, pooled } from "../api.js";
import { entryInfo, QUADRANTS } from "../catalogue.js";
import { sparkline } from "../charts.js";
import { field, fill, h } from "../dom.js";
import { format, formatChange, humanize } from "../format.js";
import { addMonths, dayLabel, isMonth, lastCompleteMonth, monthLabel, monthsEnding } from "../months.js";
import { figure, loading, pageHeader, section, tableWrap } from "../ui.js";

const TREND_MONTHS = 12;

function statusBadge(status) {
  if (!status) return h("span", { class: "muted", title: "No target set" }, "—");
  return h("span", { class: ["badge", `status-${status}`] }, status === "on_track" ? "On track" : "Off track");
}

function quadrantTable(name, label, entries, sparkCells) {
  const rows = entries.map((entry) => {
    const [title, kind] = entryInfo(entry.metric);
    const cell = h("td", { class: "spark", "data-metric": entry.metric }, h("span", { class: "muted" }, "…"));
    sparkCells.set(entry.metric, { cell, title, kind });
    return h(
      "tr",
      { "data-metric": entry.metric },
      h("th", { scope: "row" }, title),
      h("td", { class: "num", "data-label": "Value" }, figure(kind, entry.value, entry.metric)),
      h("td", { class: "num", "data-label": "Previous" }, format(kind, entry.previous), h("span", { class: "change" }, formatChange(kind, entry.change))),
      h("td", { class: "num", "data-label": "Target" }, format(kind, entry.target)),
      h("td", { "data-label": "Status" }, statusBadge(entry.status)),
      cell,
    );
  });
  const table = h(
    "table",
    { class: "scorecard", "data-quadrant": name },
    h("thead", {}, h("tr", {}, ["Figure", "Value", "Previous", "Target", "Status", "12 months"].map(
      (c, i) => h("th", { scope: "col", class: i >= 1 && i <= 3 ? "num" : null }, c)))),
    h("tbody", {}, rows),
  );
  return section(label, tableWrap(`${label} quadrant`, table));
}

function fillSparklines(sparkCells, months, cards) {
  for (const [metric, { cell, title, kind }] of sparkCells) {
    const values = cards.map((card) => {
      if (!card) return null;
      const entry = Object.values(card.quadrants).flat().find((e) => e.metric === metric);
      return entry ? entry.value : null;
    });
    const known = values.filter((v) => v !== null);
    const label = known.length
      ? `${title}, ${monthLabel(months[0])} to ${monthLabel(months[months.length - 1])}: from ` +
        `${format(kind, known[0])} to ${format(kind, known[known.length - 1])}`
      : `${title}: no figures in the last 12 months`;
    const chart = sparkline(values, { label, width: 96 });
    chart.dataset.points = String(known.length);
    chart.dataset.values = JSON.stringify(values);
    fill(cell, chart);
  }
}

export async function render(root, ctx) {
  const latest = lastCompleteMonth();
  const month = isMonth(ctx.params.get("month")) ? ctx.params.get("month") : latest;
  const picker = h("input", { type: "month", name: "month", value: month, max: latest, min: "1910-01", required: true });
  const form = h("form", { class: "toolbar", "aria-label": "Choose the month" }, field("Month", picker),
    h("button", { type: "submit" }, "Show"),
    h("button", { type: "button", class: "quiet", onclick: () => ctx.navigate("scorecard", { params: { month: addMonths(month, -1) } }) }, "← Previous month"),
    month < latest
      ? h("button", { type: "button", class: "quiet", onclick: () => ctx.navigate("scorecard", { params: { month: addMonths(month, 1) } }) }, "Next month →")
      : null);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (isMonth(picker.value)) ctx.navigate("scorecard", { params: { month: picker.value } });
  });
  const status = h("p", { class: "card-status" }, loading());
  const grid = h("div", { class: "quadrants" });
  root.append(pageHeader("Scorecard", `The balanced scorecard of ${monthLabel(month)}: every figure with the month before, its target and status, and its last 12 months.`), form, status, grid);

  const card = await get(`scorecards/${month}`);
  ctx.currency(card.meta.currency);
  fill(status, card.closed
    ? `Closed on ${dayLabel(card.closed_at.slice(0, 10))}: these figures are frozen.` +
      (card.restated.length ? ` ${card.restated.length} figure(s) restated since: ${card.restated.map((r) => humanize(r.metric)).join(", ")}.` : "")
    : "Open month: figures follow the data until the month is closed.");
  const sparkCells = new Map();
  for (const [name, label] of QUADRANTS) {
    if (card.quadrants[name]) grid.append(quadrantTable(name, label, card.quadrants[name], sparkCells));
  }
  if (!ctx.isCurrent()) return;

  // The 11 cards before this one, four at a time; this month's card is the last point of every line.
  const months = monthsEnding(month, TREND_MONTHS);
  const earlier = await pooled(months.slice(0, -1).map((m) => () => get(`scorecards/${m}`)), 4);
  if (!ctx.isCurrent()) return;
  fillSparklines(sparkCells, months, [...earlier, card]);
}
