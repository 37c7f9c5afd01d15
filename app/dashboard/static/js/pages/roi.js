// ROI: the naive ROI (every retained at-risk customer's whole ARR credited) beside the incremental ROI (against
// a counterfactual, with its bootstrap interval), for the whole program and by framework and by type; then each
// holdout experiment with its two arms.

import { get, pooled } from "../api.js";
import { rangeBars } from "../charts.js";
import { field, h, select } from "../dom.js";
import { format, humanize } from "../format.js";
import { addMonths, dayLabel, isMonth, lastCompleteMonth, monthEnd, monthLabel, monthStart } from "../months.js";
import { chartFigure, figure, pageHeader, section, stat, tableWrap } from "../ui.js";

const SPANS = [["3", "3 months"], ["6", "6 months"], ["12", "12 months"], ["24", "24 months"]];

function controls(ctx, month, months) {
  const monthInput = h("input", { type: "month", name: "month", value: month, max: lastCompleteMonth(), required: true });
  const spanSelect = select("months", SPANS, months);
  const form = h("form", { class: "toolbar", "aria-label": "Choose the range" },
    field("Last month", monthInput), field("Range", spanSelect), h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (isMonth(monthInput.value)) ctx.navigate("roi", { params: { month: monthInput.value, months: spanSelect.value } });
  });
  return form;
}

const interval = (low, high, why = "under 10 episodes") =>
  (low === null || high === null ? `no interval (${why})` : `${format("ratio", low)} to ${format("ratio", high)}`);

function summary(row) {
  return section("The program",
    h("div", { class: "stats" },
      stat("Naive ROI", "ratio", row.roi, "roi", "whole ARR of retained at-risk customers"),
      stat("Incremental ROI", "ratio", row.roi_incremental, "roi_incremental", `95 % interval: ${interval(row.roi_incremental_low, row.roi_incremental_high)}`),
      stat("Attributed revenue", "money", row.attributed_revenue, "attributed_revenue"),
      stat("Incremental revenue", "money", row.incremental_revenue, "incremental_revenue"),
      stat("Cost", "money", row.cost, "cost", "CS cost of the range"),
      stat("Interventions started", "count", row.interventions, "interventions")),
    h("p", { class: "muted" }, `Counterfactual: ${row.method ? humanize(row.method) : "none (no episodes)"}.`));
}

function groupPanel(title, rows, by) {
  const chart = (width) => rangeBars({ kind: "ratio", width, name: `roi-by-${by}`,
    label: `Naive and incremental ROI by ${by}, with the incremental ROI's 95 % interval`,
    rows: rows.map((r) => ({ label: humanize(r.group), bars: [
      { name: "naive ROI", value: r.roi, cls: "s3" },
      { name: "incremental ROI", value: r.roi_incremental, low: r.roi_incremental_low, high: r.roi_incremental_high, cls: "s1" },
    ] })) });
  const table = h("table", { "data-table": `roi-${by}` },
    h("thead", {}, h("tr", {}, [humanize(by), "Interventions", "Cost", "Attributed revenue", "Naive ROI", "Incremental revenue", "Incremental ROI", "95 % interval", "Method"].map(
      (c, i) => h("th", { scope: "col", class: i && i < 7 ? "num" : null }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", { "data-group": r.group ?? "" },
      h("th", { scope: "row" }, humanize(r.group)),
      h("td", { class: "num" }, format("count", r.interventions)),
      h("td", { class: "num" }, figure("money", r.cost, "cost")),
      h("td", { class: "num" }, figure("money", r.attributed_revenue, "attributed_revenue")),
      h("td", { class: "num" }, figure("ratio", r.roi, "roi")),
      h("td", { class: "num" }, figure("money", r.incremental_revenue, "incremental_revenue")),
      h("td", { class: "num" }, figure("ratio", r.roi_incremental, "roi_incremental")),
      h("td", {}, interval(r.roi_incremental_low, r.roi_incremental_high)),
      h("td", {}, r.method ? humanize(r.method) : "—")))));
  return section(title,
    rows.length
      ? [chartFigure("Grey: naive ROI. Blue: incremental ROI, the line across it its 95 % bootstrap interval.", chart,
        [["Naive ROI", "s3"], ["Incremental ROI", "s1"]]), tableWrap(title, table)]
      : h("p", { class: "empty" }, "No interventions started in this range."));
}

function armRows(result) {
  const arms = ["treatment", "holdout"].filter((arm) => result.arms[arm]);
  const metrics = [
    ["Customers", "count", "customers"], ["Starting ARR", "money", "starting_arr"], ["Churned customers", "count", "churned_customers"],
    ["Churn rate", "ratio", "churn_rate"], ["GRR", "ratio", "grr"], ["NRR", "ratio", "nrr"],
    ["Health change (points)", "score", "avg_health_delta"], ["Interventions of the play", "count", "interventions"], ["Cost", "money", "cost"],
  ];
  return h("table", { "data-table": "arms", "data-experiment": result.experiment },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Figure"), arms.map((arm) => h("th", { scope: "col", class: "num" }, humanize(arm))))),
    h("tbody", {}, metrics.map(([label, kind, key]) => h("tr", { "data-figure": key },
      h("th", { scope: "row" }, label),
      arms.map((arm) => h("td", { class: "num", "data-arm": arm }, figure(kind, result.arms[arm][key], key)))))));
}

function experimentPanel(experiment, result) {
  const churn = result.difference.churn_rate;
  return h("article", { class: "experiment", "data-experiment": experiment.id },
    h("h3", {}, experiment.name || experiment.id),
    h("p", {}, `${humanize(experiment.play.type)} (${humanize(experiment.play.framework)}) against a ${format("ratio", experiment.holdout_share)} holdout, ` +
      `${dayLabel(experiment.starts_on)} to ${dayLabel(experiment.ends_on)}. Result as of ${dayLabel(result.as_of)}: `,
      h("span", { class: ["badge", result.status === "ready" ? "status-on_track" : "status-in_progress"], "data-status": result.status }, humanize(result.status)), "."),
    tableWrap(`Arms of ${experiment.id}`, armRows(result)),
    h("div", { class: "stats" },
      stat("Churn rate difference", "ratio", churn?.estimate ?? null, "churn_rate_difference",
        churn ? `95 %: ${format("ratio", churn.low)} to ${format("ratio", churn.high)}, p = ${format("number", churn.p_value)}` : "an arm is empty"),
      stat("Incremental retained ARR", "money", result.incremental_retained_arr, "incremental_retained_arr"),
      stat("ROI", "ratio", result.roi, "experiment_roi", interval(result.roi_low, result.roi_high, "an arm under 10 customers")),
      stat("Minimum detectable effect", "ratio", result.minimum_detectable_effect, "minimum_detectable_effect")));
}

async function experimentsPanel() {
  const list = await get("experiments", { limit: 20 });
  const results = await pooled(list.items.map((e) => () => get(`experiments/${encodeURIComponent(e.id)}/result`)), 3);
  return section("Holdout experiments",
    list.items.length ? list.items.map((e, i) => experimentPanel(e, results[i])) : h("p", { class: "empty" }, "No experiments yet."));
}

export async function render(root, ctx) {
  const month = isMonth(ctx.params.get("month")) ? ctx.params.get("month") : lastCompleteMonth();
  const months = SPANS.some(([v]) => v === ctx.params.get("months")) ? ctx.params.get("months") : "12";
  const first = addMonths(month, 1 - Number(months));
  const range = { start: monthStart(first), end: monthEnd(month) };
  root.append(pageHeader("ROI", `Interventions started ${monthLabel(first)} to ${monthLabel(month)}: what they returned, naively and against a counterfactual.`),
    controls(ctx, month, months));
  const [whole, byFramework, byType, experiments] = await Promise.all([
    get("metrics/roi", range),
    get("metrics/roi", { ...range, group_by: "framework" }),
    get("metrics/roi", { ...range, group_by: "type" }),
    experimentsPanel(),
  ]);
  ctx.currency(whole.meta.currency);
  root.append(summary(whole.rows[0]),
    groupPanel("By framework", byFramework.rows, "framework"),
    groupPanel("By type", byType.rows, "type"),
    experiments);
}
