// Health: paying customers per health band at each month's end, revenue at risk, and the CSM's worklist
// (GET /v1/customers with the worklist's filters, sorted by revenue at risk unless you choose otherwise).

import { ApiError, get } from "../api.js";
import { lineChart, stackedBars } from "../charts.js";
import { field, fill, h, select } from "../dom.js";
import { format, humanize } from "../format.js";
import { addMonths, dayLabel, isMonth, lastCompleteMonth, monthEnd, monthLabel, monthShort, monthStart } from "../months.js";
import { bandBadge, chartFigure, figure, pageHeader, section, stat, tableWrap } from "../ui.js";

const BANDS = [["red", "Red", "red"], ["yellow", "Yellow", "yellow"], ["green", "Green", "green"], ["no_score", "No score", "none"]];
const STAGES = [["", "Any"], ["prospect", "Prospect"], ["land", "Land"], ["adopt", "Adopt"], ["expand", "Expand"], ["renew", "Renew"], ["churned", "Churned"]];
const YES_NO = [["", "Any"], ["true", "Yes"], ["false", "No"]];
const SORTS = [
  ["revenue_at_risk", "Revenue at risk"],
  ["churn_probability", "Churn probability"],
  ["arr", "ARR"],
  ["health", "Health score"],
  ["next_renewal_due", "Next renewal due"],
];
// The worklist's filters and sort (SPEC §12) and the list's older filters, as the query of GET /v1/customers.
const WORKLIST_PARAMS = ["stage", "at_risk", "renewal_due_within_days", "min_arr", "has_open_intervention", "sort"];
const LIST_PARAMS = ["band", "segment"];
const SPANS = [["6", "6 months"], ["12", "12 months"], ["24", "24 months"]];
const PAGE_SIZE = 25;

// Columns: [field, heading, sort key or null, cell]. A column whose field no item carries is left out, so the
// page works against a service without the worklist fields too.
const COLUMNS = [
  ["id", "Customer", null, (c) => h("a", { href: `#/customers/${encodeURIComponent(c.id)}` }, c.name || c.id)],
  ["segment", "Segment", null, (c) => c.segment ?? "—"],
  ["arr", "ARR", "arr", (c) => figure("money", c.arr, "arr")],
  ["health", "Health", "health", (c) => h("span", {}, format("score", c.health?.score), " ", bandBadge(c.health?.band))],
  ["stage", "Stage", null, (c) => humanize(c.stage)],
  ["churn_probability", "Churn probability", "churn_probability", (c) => figure("ratio", c.churn_probability, "churn_probability")],
  ["revenue_at_risk", "Revenue at risk", "revenue_at_risk", (c) => figure("money", c.revenue_at_risk, "revenue_at_risk")],
  ["next_renewal_due", "Next renewal", "next_renewal_due", (c) => dayLabel(c.next_renewal_due)],
  ["open_interventions", "Open interventions", null, (c) => format("count", c.open_interventions)],
];
const NUMERIC = new Set(["arr", "churn_probability", "revenue_at_risk", "open_interventions"]);

function bandsPanel(rows) {
  const labels = rows.map((r) => monthLabel(r.period_start));
  const shortLabels = rows.map((r) => monthShort(r.period_start));
  const series = BANDS.map(([key, name, cls]) => ({ name, cls, values: rows.map((r) => r[`${key}_customers`]) }));
  const chart = (width) => stackedBars({ labels, shortLabels, series, kind: "count", width, name: "bands",
    label: `Paying customers by health band at each month's end, ${labels[0]} to ${labels[labels.length - 1]}` });
  const risk = (width) => lineChart({ labels, shortLabels, kind: "money", width, height: 200, name: "revenue-at-risk",
    series: [{ name: "Revenue at risk", values: rows.map((r) => r.revenue_at_risk), cls: "s2" }],
    label: `Revenue at risk at each month's end, ${labels[0]} to ${labels[labels.length - 1]}` });
  const last = rows[rows.length - 1];
  const table = h("table", { "data-table": "bands" },
    h("thead", {}, h("tr", {}, ["Month", ...BANDS.map(([, name]) => name), "Revenue at risk"].map((c, i) => h("th", { scope: "col", class: i ? "num" : null }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", { "data-period": r.period_start },
      h("th", { scope: "row", class: "nowrap" }, monthLabel(r.period_start)),
      BANDS.map(([key]) => h("td", { class: "num" }, figure("count", r[`${key}_customers`], `${key}_customers`))),
      h("td", { class: "num" }, figure("money", r.revenue_at_risk, "revenue_at_risk"))))));
  return {
    overview: section("Health bands and revenue at risk",
      h("div", { class: "stats" },
        stat(`Revenue at risk, ${monthLabel(last.period_start)}`, "money", last.revenue_at_risk, "revenue_at_risk",
          "Σ ARR × churn probability"),
        stat("Red customers", "count", last.red_customers, "red_customers"),
        stat("Red ARR", "money", last.red_arr, "red_arr"),
        stat("Average score", "score", last.avg_score, "avg_score")),
      h("div", { class: "grid-2" },
        chartFigure("Paying customers at each month's end by the band of their latest health snapshot.", chart,
          BANDS.map(([, name, cls]) => [name, cls])),
        chartFigure("Revenue at risk: each paying customer's ARR times its churn probability, summed.", risk, [["Revenue at risk", "s2"]]))),
    byMonth: section("Bands by month", tableWrap("Health bands by month", table)),
  };
}

function rangeForm(ctx, values) {
  const monthInput = h("input", { type: "month", name: "month", value: values.month, max: lastCompleteMonth(), required: true });
  const spanSelect = select("months", SPANS, values.months);
  const form = h("form", { class: "toolbar", "aria-label": "Choose the months" },
    field("Last month", monthInput), field("Range", spanSelect), h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (isMonth(monthInput.value)) ctx.navigate("health", { params: { ...values, month: monthInput.value, months: spanSelect.value } });
  });
  return form;
}

function worklistForm(ctx, values) {
  const controls = {
    sort: select("sort", SORTS, values.sort.replace(/^-/, "")),
    direction: select("direction", [["desc", "Highest first"], ["asc", "Lowest first"]], values.sort.startsWith("-") ? "desc" : "asc"),
    stage: select("stage", STAGES, values.stage),
    at_risk: select("at_risk", YES_NO, values.at_risk),
    band: select("band", [["", "Any"], ...BANDS.slice(0, 3).map(([v, n]) => [v, n])], values.band),
    renewal_due_within_days: h("input", { type: "number", name: "renewal_due_within_days", min: 0, max: 3650, step: 1, inputmode: "numeric", value: values.renewal_due_within_days }),
    min_arr: h("input", { type: "number", name: "min_arr", min: 0, step: "0.01", inputmode: "decimal", value: values.min_arr }),
    has_open_intervention: select("has_open_intervention", YES_NO, values.has_open_intervention),
  };
  const form = h("form", { class: "toolbar", "aria-label": "Worklist filters" },
    field("Sort by", controls.sort), field("Order", controls.direction), field("Stage", controls.stage),
    field("At risk", controls.at_risk), field("Band", controls.band),
    field("Renewal due within (days)", controls.renewal_due_within_days), field("Minimum ARR", controls.min_arr),
    field("Open intervention", controls.has_open_intervention),
    h("button", { type: "submit" }, "Apply"),
    h("button", { type: "button", class: "quiet", onclick: () => ctx.navigate("health", { params: { month: values.month, months: values.months } }) }, "Reset"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = {};
    for (const name of ["stage", "at_risk", "band", "renewal_due_within_days", "min_arr", "has_open_intervention"]) {
      params[name] = controls[name].value;
    }
    params.sort = `${controls.direction.value === "desc" ? "-" : ""}${controls.sort.value}`;
    ctx.navigate("health", { params: { ...params, month: values.month, months: values.months } });
  });
  return form;
}

function sortHeader(ctx, values, [key, heading, sortKey]) {
  const num = NUMERIC.has(key) ? "num" : null;
  if (!sortKey) return h("th", { scope: "col", class: num }, heading);
  const current = values.sort.replace(/^-/, "") === sortKey;
  const descending = values.sort.startsWith("-");
  const next = current && descending ? sortKey : `-${sortKey}`;
  return h("th", { scope: "col", class: num, "aria-sort": current ? (descending ? "descending" : "ascending") : null },
    h("button", { type: "button", class: "sort", "data-sort": sortKey,
      onclick: () => ctx.navigate("health", { params: { ...values, sort: next } }) },
    heading, current ? (descending ? " ↓" : " ↑") : ""));
}

async function loadWorklist(params, cursor) {
  try {
    return { page: await get("customers", { ...params, limit: PAGE_SIZE, cursor }), worklist: true };
  } catch (error) {
    // A service without the worklist answers its parameters with 422: list without them, and say so.
    if (!(error instanceof ApiError) || error.status !== 422) throw error;
    const older = Object.fromEntries(Object.entries(params).filter(([k]) => LIST_PARAMS.includes(k)));
    return { page: await get("customers", { ...older, limit: PAGE_SIZE, cursor }), worklist: false };
  }
}

async function worklistPanel(ctx, values) {
  const params = Object.fromEntries([...WORKLIST_PARAMS, ...LIST_PARAMS].map((k) => [k, values[k]]));
  const first = await loadWorklist(params);
  const items = [...first.page.items];
  const present = (key) => items.some((c) => Object.hasOwn(c, key));
  const columns = COLUMNS.filter(([key]) => present(key) || key === "id");
  const body = h("tbody");
  const addRows = (rows) => body.append(...rows.map((c) => h("tr", { "data-customer": c.id },
    columns.map(([key, , , cell], i) => (i === 0
      ? h("th", { scope: "row" }, cell(c))
      : h("td", { class: NUMERIC.has(key) ? "num" : null }, cell(c)))))));
  addRows(items);
  const table = h("table", { "data-table": "worklist" },
    h("caption", {}, `Customers ${first.worklist ? `sorted by ${SORTS.find(([v]) => v === values.sort.replace(/^-/, ""))?.[1].toLowerCase()}, ${values.sort.startsWith("-") ? "highest" : "lowest"} first` : "by id"}.`),
    h("thead", {}, h("tr", {}, columns.map((col) => (first.worklist ? sortHeader(ctx, values, col) : h("th", { scope: "col", class: NUMERIC.has(col[0]) ? "num" : null }, col[1]))))),
    body);
  let cursor = first.page.next_cursor;
  const more = h("button", { type: "button", class: "quiet", hidden: !cursor }, "Load more");
  more.addEventListener("click", async () => {
    more.disabled = true;
    const next = await loadWorklist(first.worklist ? params : {}, cursor);
    addRows(next.page.items);
    cursor = next.page.next_cursor;
    more.hidden = !cursor;
    more.disabled = false;
    ctx.announce(`${next.page.items.length} more customers loaded.`);
  });
  return section("Worklist",
    first.worklist ? null : h("p", { class: "notice" }, "This service does not offer the worklist's filters and sort yet: customers are listed by id."),
    worklistForm(ctx, values),
    items.length ? tableWrap("Worklist", table) : h("p", { class: "empty" }, "No customer matches these filters."),
    h("div", { class: "form-actions" }, more));
}

export async function render(root, ctx) {
  const month = isMonth(ctx.params.get("month")) ? ctx.params.get("month") : lastCompleteMonth();
  const months = SPANS.some(([v]) => v === ctx.params.get("months")) ? ctx.params.get("months") : "12";
  const values = { sort: ctx.params.get("sort") || "-revenue_at_risk", month: ctx.params.get("month") || "", months: ctx.params.get("months") || "" };
  for (const name of [...WORKLIST_PARAMS, ...LIST_PARAMS]) if (name !== "sort") values[name] = ctx.params.get(name) || "";
  const range = { start: monthStart(addMonths(month, 1 - Number(months))), end: monthEnd(month), interval: "month" };
  root.append(pageHeader("Health", `Health bands and revenue at risk for the ${months} months to ${monthLabel(month)}, and the customers to look at first.`),
    rangeForm(ctx, { ...values, month, months }));
  const [metric, worklist] = await Promise.all([get("metrics/health", range), worklistPanel(ctx, values)]);
  ctx.currency(metric.meta.currency);
  const bands = bandsPanel(metric.rows);
  root.append(bands.overview, worklist, bands.byMonth);
}
