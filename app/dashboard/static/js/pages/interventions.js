// Interventions: record a new one (keys with the write scope), and the list with its filters, each row with
// the lifecycle moves its status allows (start, complete, cancel).

import { get, post } from "../api.js";
import { field, fill, h, newId, select } from "../dom.js";
import { humanize } from "../format.js";
import { interventionsTable } from "../interventions-ui.js";
import { pageHeader, section } from "../ui.js";

const FRAMEWORKS = ["loss_aversion", "commitment_escalation", "habit_formation", "social_proof", "other"];
const TYPES = ["health_check", "onboarding_call", "training", "qbr", "win_back", "executive_alignment", "adoption_campaign", "expansion_review"];
const STATUSES = ["planned", "in_progress", "completed", "cancelled"];
const METRICS = ["health_score", "arr", "renewal", "login", "feature_used", "active_users"];
const PAGE_SIZE = 50;

const options = (values, any) => [...(any ? [["", any]] : []), ...values.map((v) => [v, humanize(v)])];

/** Drop empty values; numbers typed in a form stay strings, which the API accepts for its decimal fields. */
function compact(object) {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== "" && v !== null && v !== undefined));
}

function createForm(ctx, team, onCreated) {
  const input = (attrs) => h("input", attrs);
  const c = {
    customer: input({ name: "customer", required: true, maxlength: 255, autocomplete: "off", value: ctx.params.get("customer") || "" }),
    type: select("type", options(TYPES), "health_check"),
    framework: select("framework", options(FRAMEWORKS), "loss_aversion"),
    owner: select("owner", [["", "Nobody"], ...team.map((m) => [m.id, `${m.name || m.id} (${humanize(m.role)})`])], ""),
    reason: h("textarea", { name: "reason", required: true, maxlength: 2000, rows: 2 }),
    metric: input({ name: "metric", required: true, value: "health_score", list: "metric-names", autocomplete: "off" }),
    change: input({ name: "change", type: "number", required: true, step: "any", value: "10" }),
    unit: select("unit", [["points", "Points (health score)"], ["percent", "Percent"], ["absolute", "Absolute"]], "points"),
    days: input({ name: "measure_after_days", type: "number", required: true, min: 1, max: 730, step: 1, value: "60" }),
    hours: input({ name: "hours", type: "number", min: 0, step: "0.01", value: "" }),
    directCost: input({ name: "direct_cost", type: "number", min: 0, step: "0.01", value: "" }),
    atRisk: select("at_risk", [["", "Derive from health and renewals"], ["true", "Yes"], ["false", "No"]], ""),
    startNow: input({ name: "start_now", type: "checkbox" }),
  };
  const error = h("div", { class: "form-errors", "aria-live": "assertive" });
  const button = h("button", { type: "submit" }, "Record intervention");
  const form = h("form", { class: "create", "aria-label": "Record an intervention", "data-form": "create-intervention" },
    h("div", { class: "form-grid" },
      field("Customer id", c.customer), field("Type", c.type), field("Framework", c.framework), field("Owner", c.owner),
      h("div", { class: "wide" }, field("Reason", c.reason, "Why it is done (1 to 2000 characters).")),
      field("Expected: metric", c.metric, "health_score, arr, renewal or a usage kind"),
      field("Expected: change", c.change), field("Unit", c.unit), field("Measure after (days)", c.days),
      field("Hours", c.hours), field("Direct cost", c.directCost), field("At risk", c.atRisk)),
    h("datalist", { id: "metric-names" }, METRICS.map((m) => h("option", { value: m }))),
    h("div", { class: "field check" }, c.startNow, h("label", { for: (c.startNow.id = newId("f")) }, "Start it now (captures its context today)")),
    h("div", { class: "form-actions" }, button),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(error);
    if (!form.reportValidity()) return;
    const body = compact({
      customer: c.customer.value.trim(),
      type: c.type.value,
      framework: c.framework.value,
      owner: c.owner.value,
      reason: c.reason.value.trim(),
      hours: c.hours.value,
      direct_cost: c.directCost.value,
      at_risk: c.atRisk.value === "" ? null : c.atRisk.value === "true",
      status: c.startNow.checked ? "in_progress" : "planned",
      expected: { metric: c.metric.value.trim(), change: c.change.value, unit: c.unit.value, measure_after_days: Number(c.days.value) },
    });
    button.disabled = true;
    try {
      const created = await post("interventions", body);
      ctx.announce(`Intervention ${created.id} recorded for ${created.customer}, ${humanize(created.status).toLowerCase()}.`);
      c.reason.value = "";
      onCreated(created);
    } catch (err) {
      fill(error, ctx.problemView(err));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function filters(ctx, values) {
  const c = {
    status: select("status", options(STATUSES, "Any"), values.status),
    framework: select("framework", options(FRAMEWORKS, "Any"), values.framework),
    type: select("type", options(TYPES, "Any"), values.type),
    customer: h("input", { name: "customer", value: values.customer, maxlength: 255, autocomplete: "off" }),
  };
  const form = h("form", { class: "toolbar", "aria-label": "Filter interventions" },
    field("Status", c.status), field("Framework", c.framework), field("Type", c.type), field("Customer id", c.customer),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.navigate("interventions", { params: Object.fromEntries(Object.entries(c).map(([k, el]) => [k, el.value.trim()])) });
  });
  return form;
}

export async function render(root, ctx) {
  const values = Object.fromEntries(["status", "framework", "type", "customer"].map((k) => [k, ctx.params.get(k) || ""]));
  root.append(pageHeader("Interventions", "What the team does for customers, why, and what it expects: record, start, complete or cancel."));
  const [page, team] = await Promise.all([
    get("interventions", { ...compact(values), limit: PAGE_SIZE }),
    ctx.canWrite ? get("team-members", { limit: 1000 }) : Promise.resolve({ items: [] }),
  ]);
  ctx.currency(page.meta.currency);
  const list = interventionsTable(page.items, ctx, { caption: "Interventions by id." });
  const empty = h("p", { class: "empty", hidden: page.items.length > 0 }, "No intervention matches these filters.");
  list.element.hidden = !page.items.length;
  let cursor = page.next_cursor;
  const more = h("button", { type: "button", class: "quiet", hidden: !cursor }, "Load more");
  more.addEventListener("click", async () => {
    more.disabled = true;
    const next = await get("interventions", { ...compact(values), limit: PAGE_SIZE, cursor });
    list.append(next.items);
    cursor = next.next_cursor;
    more.hidden = !cursor;
    more.disabled = false;
    ctx.announce(`${next.items.length} more interventions loaded.`);
  });
  if (ctx.canWrite) {
    root.append(section("Record an intervention", createForm(ctx, team.items, (created) => {
      list.prepend(created);
      list.element.hidden = false;
      empty.hidden = true;
    })));
  }
  root.append(section("All interventions", filters(ctx, values), list.element, empty, h("div", { class: "form-actions" }, more)));
}
