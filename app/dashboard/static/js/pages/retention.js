// Retention: NRR and GRR month by month, the movements of the whole range as a waterfall (starting ARR, what
// came in and went out, ending ARR), and the range by segment (or region, industry…) with the groups that
// retain worse than the whole book marked.

import { get } from "../api.js";
import { lineChart, waterfall } from "../charts.js";
import { field, h, select } from "../dom.js";
import { format } from "../format.js";
import { isMonth, lastCompleteMonth, monthEnd, monthLabel, monthShort, monthStart, addMonths } from "../months.js";
import { chartFigure, figure, pageHeader, section, stat, tableWrap } from "../ui.js";

const GROUPS = [["segment", "Segment"], ["region", "Region"], ["industry", "Industry"], ["tier", "Tier"], ["csm", "CSM"]];
const SPANS = [["6", "6 months"], ["12", "12 months"], ["24", "24 months"]];

function controls(ctx, { month, months, groupBy }) {
  const latest = lastCompleteMonth();
  const monthInput = h("input", { type: "month", name: "month", value: month, max: latest, required: true });
  const spanSelect = select("months", SPANS, months);
  const groupSelect = select("group_by", GROUPS, groupBy);
  const form = h("form", { class: "toolbar", "aria-label": "Choose the range" },
    field("Last month", monthInput), field("Range", spanSelect), field("Group by", groupSelect),
    h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!isMonth(monthInput.value)) return;
    ctx.navigate("retention", { params: { month: monthInput.value, months: spanSelect.value, group_by: groupSelect.value } });
  });
  return form;
}

/** The waterfall's steps from one retention row: totals, then movements in, then out (SPEC §4's identity). */
function waterfallSteps(row) {
  return [
    { label: "Starting ARR", short: "Start", value: row.total_starting_arr, total: true },
    { label: "New", short: "New", value: row.new },
    { label: "Reactivation", short: "React.", value: row.reactivation },
    { label: "Upsell", short: "Upsell", value: row.upsell },
    { label: "Cross-sell", short: "Cross", value: row.cross_sell },
    { label: "Downsell", short: "Down", value: -row.downsell },
    { label: "Churn", short: "Churn", value: -row.churn },
    { label: "Ending ARR", short: "End", value: row.total_ending_arr, total: true },
  ];
}

function monthlyPanel(rows) {
  const labels = rows.map((r) => monthLabel(r.period_start));
  const chart = (width) => lineChart({
    labels,
    shortLabels: rows.map((r) => monthShort(r.period_start)),
    series: [
      { name: "NRR", values: rows.map((r) => r.nrr), cls: "s1" },
      { name: "GRR", values: rows.map((r) => r.grr), cls: "s2" },
    ],
    kind: "ratio",
    width,
    reference: 1,
    label: `NRR and GRR by month, ${labels[0]} to ${labels[labels.length - 1]}`,
    name: "nrr-grr",
  });
  const table = h("table", { "data-table": "retention-months" },
    h("thead", {}, h("tr", {}, ["Month", "NRR", "GRR", "Starting ARR", "Ending ARR", "Churned"].map(
      (c, i) => h("th", { scope: "col", class: i ? "num" : null }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", { "data-period": r.period_start },
      h("th", { scope: "row", class: "nowrap" }, monthLabel(r.period_start)),
      h("td", { class: "num" }, figure("ratio", r.nrr, "nrr")),
      h("td", { class: "num" }, figure("ratio", r.grr, "grr")),
      h("td", { class: "num" }, figure("money", r.starting_arr, "starting_arr")),
      h("td", { class: "num" }, figure("money", r.ending_arr, "ending_arr")),
      h("td", { class: "num" }, format("count", r.churned_customers))))));
  return section("NRR and GRR by month",
    chartFigure("Net (NRR) and gross (GRR) revenue retention of each month's cohort; the dashed line is 100 %.", chart,
      [["NRR", "s1"], ["GRR", "s2"]]),
    tableWrap("NRR and GRR by month", table));
}

function waterfallPanel(row) {
  const steps = waterfallSteps(row);
  const chart = (width) => waterfall({ steps, kind: "money", width, name: "waterfall",
    label: `ARR movements from ${format("money", row.total_starting_arr)} to ${format("money", row.total_ending_arr)}` });
  const table = h("table", { "data-table": "movements" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Movement"), h("th", { scope: "col", class: "num" }, "ARR"))),
    h("tbody", {}, steps.map((step) => h("tr", {},
      h("th", { scope: "row" }, step.label),
      h("td", { class: "num" }, figure("money", step.value, step.label.toLowerCase().replace(/[^a-z]+/g, "_")))))));
  return section("ARR movements",
    h("div", { class: "stats" },
      stat("NRR of the range", "ratio", row.nrr, "range_nrr"),
      stat("GRR of the range", "ratio", row.grr, "range_grr"),
      stat("Logo churn", "ratio", row.logo_churn_rate, "range_logo_churn_rate")),
    chartFigure("From the whole book's ARR at the start to its ARR at the end: new and reactivated customers, " +
      "expansion, contraction and churn.", chart, [["Total", "total"], ["In", "up"], ["Out", "down"]]),
    tableWrap("ARR movements", table));
}

function groupsPanel(rows, book, groupBy) {
  const label = GROUPS.find(([v]) => v === groupBy)?.[1] || groupBy;
  const weak = (r) => {
    const reasons = [];
    if (r.nrr !== null && book.nrr !== null && r.nrr < book.nrr) reasons.push("NRR");
    if (r.grr !== null && book.grr !== null && r.grr < book.grr) reasons.push("GRR");
    return reasons;
  };
  const note = h("p", { class: "muted" }, `Rows marked ▼ retain worse than the whole book (NRR ${format("ratio", book.nrr)}, GRR ${format("ratio", book.grr)}).`);
  const table = h("table", { "data-table": "groups" },
    h("thead", {}, h("tr", {}, [label, "Customers at start", "Starting ARR", "Ending ARR", "NRR", "GRR", "Logo churn", "Compared with the book"].map(
      (c, i) => h("th", { scope: "col", class: i && i < 7 ? "num" : null }, c)))),
    h("tbody", {}, rows.map((r) => {
      const reasons = weak(r);
      return h("tr", { class: reasons.length ? "weak" : null, "data-group": r.group ?? "" },
        h("th", { scope: "row" }, r.group === null ? "(none)" : r.group),
        h("td", { class: "num" }, format("count", r.customers_start)),
        h("td", { class: "num" }, figure("money", r.starting_arr, "starting_arr")),
        h("td", { class: "num" }, figure("money", r.ending_arr, "ending_arr")),
        h("td", { class: "num" }, figure("ratio", r.nrr, "nrr")),
        h("td", { class: "num" }, figure("ratio", r.grr, "grr")),
        h("td", { class: "num" }, figure("ratio", r.logo_churn_rate, "logo_churn_rate")),
        h("td", {}, reasons.length ? h("span", { class: "badge weak-flag" }, `Below book ${reasons.join(" and ")}`) : h("span", { class: "muted" }, "At or above")));
    })));
  return section(`Retention by ${label.toLowerCase()}`, note, tableWrap(`Retention by ${label.toLowerCase()}`, table));
}

export async function render(root, ctx) {
  const month = isMonth(ctx.params.get("month")) ? ctx.params.get("month") : lastCompleteMonth();
  const months = SPANS.some(([v]) => v === ctx.params.get("months")) ? ctx.params.get("months") : "12";
  const groupBy = GROUPS.some(([v]) => v === ctx.params.get("group_by")) ? ctx.params.get("group_by") : "segment";
  const first = addMonths(month, 1 - Number(months));
  const range = { start: monthStart(first), end: monthEnd(month) };
  root.append(
    pageHeader("Retention", `${monthLabel(first)} to ${monthLabel(month)}: how much of the revenue the book started with it kept (GRR) and grew (NRR).`),
    controls(ctx, { month, months, groupBy }),
  );
  const [monthly, whole, grouped] = await Promise.all([
    get("metrics/retention", { ...range, interval: "month" }),
    get("metrics/retention", range),
    get("metrics/retention", { ...range, group_by: groupBy }),
  ]);
  ctx.currency(whole.meta.currency);
  const grid = h("div", { class: "grid-2" }, monthlyPanel(monthly.rows), waterfallPanel(whole.rows[0]));
  root.append(grid, groupsPanel(grouped.rows, whole.rows[0], groupBy));
}
