// A customer: who it is, its health now with each component, its score history, what is recommended, and its
// interventions (with their lifecycle buttons for keys that may write).

import { ApiError, get } from "../api.js";
import { lineChart } from "../charts.js";
import { h } from "../dom.js";
import { format, humanize } from "../format.js";
import { interventionsTable } from "../interventions-ui.js";
import { dayLabel, dayShort } from "../months.js";
import { bandBadge, chartFigure, figure, pageHeader, section, stat, tableWrap } from "../ui.js";

const HISTORY_LIMIT = 1000;

function facts(customer) {
  const rows = [
    ["Id", customer.id], ["Segment", customer.segment], ["Region", customer.region], ["Industry", customer.industry],
    ["Tier", humanize(customer.tier)], ["CSM", customer.csm], ["Stage", humanize(customer.stage)],
  ];
  return h("dl", { class: "facts" }, rows.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value ?? "—")]));
}

function componentsPanel(health) {
  const table = h("table", { "data-table": "components" },
    h("caption", {}, `As of ${dayLabel(health.as_of)}, health model version ${health.model_version}; ` +
      `${format("ratio", health.coverage)} of the weight had data.`),
    h("thead", {}, h("tr", {}, ["Component", "Weight", "Raw value", "Score (0–100)", "", "Contribution"].map(
      (c, i) => h("th", { scope: "col", class: [1, 2, 3, 5].includes(i) ? "num" : null }, c)))),
    h("tbody", {}, health.components.map((c) => h("tr", { "data-component": c.name },
      h("th", { scope: "row" }, humanize(c.name)),
      h("td", { class: "num" }, format("number", c.weight)),
      h("td", { class: "num" }, format("number", c.raw)),
      h("td", { class: "num" }, figure("score", c.score, c.name)),
      h("td", {}, c.score === null ? h("span", { class: "muted" }, "no data")
        : h("meter", { min: 0, max: 100, low: 40, high: 70, optimum: 100, value: c.score, "aria-label": `${humanize(c.name)} score` })),
      h("td", { class: "num" }, format("score", c.contribution))))));
  return section("Health components",
    h("div", { class: "stats" }, stat("Score today", "score", health.score, "score"), h("div", { class: "stat" },
      h("span", { class: "stat-label" }, "Band"), bandBadge(health.band))),
    tableWrap("Health components", table));
}

function historyPanel(items) {
  if (!items.length) return section("Score history", h("p", { class: "empty" }, "No health snapshots yet."));
  const labels = items.map((i) => dayLabel(i.snapshot_date));
  const chart = (width) => lineChart({ labels, kind: "score", width, height: 220, name: "score-history",
    shortLabels: items.map((i) => dayShort(i.snapshot_date)),
    series: [{ name: "Health score", values: items.map((i) => i.score), cls: "s1" }],
    label: `Health score at each snapshot, ${labels[0]} to ${labels[labels.length - 1]}` });
  const table = h("table", { "data-table": "history" },
    h("thead", {}, h("tr", {}, ["Snapshot", "Score", "Band"].map((c, i) => h("th", { scope: "col", class: i === 1 ? "num" : null }, c)))),
    h("tbody", {}, [...items].reverse().map((i) => h("tr", {},
      h("th", { scope: "row", class: "nowrap" }, dayLabel(i.snapshot_date)),
      h("td", { class: "num" }, figure("score", i.score, "score")),
      h("td", {}, bandBadge(i.band))))));
  return section("Score history",
    chartFigure("The health score at each snapshot (weekly or as your schedule runs them).", chart, [["Health score", "s1"]]),
    h("details", {}, h("summary", {}, "Snapshots as a table"), tableWrap("Score history", table)));
}

function recommendationPanel(answer) {
  if (!answer) return null;
  const top = answer.recommendations.slice(0, 3);
  return section("Recommended plays",
    h("p", {}, `Situation: ${humanize(answer.situation)}`, answer.reasons.length ? ` (${answer.reasons.join("; ")})` : "", "."),
    top.length
      ? h("ol", {}, top.map((r) => h("li", {}, `${humanize(r.type)} (${humanize(r.framework)}): outcome rate `,
        format("ratio", r.evidence?.outcome_rate ?? null), ` over ${format("count", r.evidence?.measured ?? 0)} measured`)))
      : h("p", { class: "empty" }, "No play has a record to recommend yet."));
}

async function optional(promise) {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export async function render(root, ctx) {
  const id = ctx.rest[0];
  if (!id) return ctx.navigate("health", { replace: true });
  const path = `customers/${encodeURIComponent(id)}`;
  const [customer, health, history, interventions, recommendation] = await Promise.all([
    get(path),
    get(`${path}/health`),
    get(`${path}/health/history`, { limit: HISTORY_LIMIT }),
    get("interventions", { customer: id, limit: 100 }),
    optional(get(`${path}/recommendation`)),
  ]);
  ctx.currency(interventions.meta.currency);
  const list = interventionsTable(interventions.items, ctx, { showCustomer: false });
  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/health" }, "← Health and worklist")),
    pageHeader(customer.name || customer.id, `${humanize(customer.stage)} stage · ${customer.segment ?? "no segment"}`),
    h("div", { class: "grid-2" },
      section("Customer",
        h("div", { class: "stats" }, stat("ARR", "money", customer.arr, "arr"), stat("Health", "score", customer.health?.score ?? null, "health"),
          h("div", { class: "stat" }, h("span", { class: "stat-label" }, "Band"), bandBadge(customer.health?.band))),
        facts(customer)),
      recommendationPanel(recommendation)),
    componentsPanel(health),
    historyPanel(history.items),
    section("Interventions",
      ctx.canWrite ? h("p", {}, h("a", { href: `#/interventions?customer=${encodeURIComponent(customer.id)}`, "data-action": "new-for-customer" }, "Record an intervention for this customer")) : null,
      interventions.items.length ? list.element : h("p", { class: "empty" }, "No interventions recorded.")),
  );
}
