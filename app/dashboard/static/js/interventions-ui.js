// The interventions table and its lifecycle buttons, shared by the Interventions page and a customer's page.

import { post } from "./api.js";
import { h } from "./dom.js";
import { humanize } from "./format.js";
import { dayLabel } from "./months.js";
import { figure, tableWrap } from "./ui.js";

// The moves each status allows (SPEC §5): planned → in_progress → completed; planned or in_progress → cancelled.
const MOVES = {
  planned: [["start", "Start"], ["cancel", "Cancel"]],
  in_progress: [["complete", "Complete"], ["cancel", "Cancel"]],
};

export function statusBadge(status) {
  return h("span", { class: ["badge", `status-${status}`], "data-status": status }, humanize(status));
}

function outcomeText(item) {
  const outcome = item.outcome;
  if (!outcome || outcome.met === null || outcome.met === undefined) return h("span", { class: "muted" }, outcome?.measured_on ? "Not measurable" : "Not yet");
  return h("span", { class: ["badge", outcome.met ? "status-on_track" : "status-off_track"] }, outcome.met ? "Met" : "Not met");
}

/** Buttons for the moves `item` allows; `onMoved(updated)` gets the intervention the API answers. */
function actions(item, ctx, onMoved) {
  const moves = MOVES[item.status] || [];
  if (!ctx.canWrite || !moves.length) return h("span", { class: "muted" }, "—");
  return h("div", { class: "actions" }, moves.map(([move, label]) => h("button", {
    type: "button",
    class: move === "cancel" ? "danger" : "quiet",
    "data-action": move,
    "aria-label": `${label} ${item.id}`,
    onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        const updated = await post(`interventions/${encodeURIComponent(item.id)}/${move}`, {});
        ctx.announce(`${item.id} is now ${humanize(updated.status).toLowerCase()}.`);
        onMoved(updated);
      } catch (error) {
        button.disabled = false;
        button.closest("td").append(ctx.problemView(error));
      }
    },
  }, label)));
}

function row(item, ctx, { showCustomer }) {
  const tr = h("tr", { "data-intervention": item.id });
  const cells = [
    h("th", { scope: "row", class: "nowrap" }, item.id),
    showCustomer ? h("td", {}, h("a", { href: `#/customers/${encodeURIComponent(item.customer)}` }, item.customer)) : null,
    h("td", {}, humanize(item.type)),
    h("td", {}, humanize(item.framework)),
    h("td", {}, statusBadge(item.status)),
    h("td", { class: "nowrap" }, dayLabel(item.started_on)),
    h("td", {}, item.owner ?? "—"),
    h("td", { class: "num" }, figure("money", item.cost, "cost")),
    h("td", { class: "num" }, figure("money", item.impact?.attributed_revenue ?? null, "attributed_revenue")),
    h("td", { class: "num" }, figure("ratio", item.roi, "roi")),
    h("td", {}, outcomeText(item)),
    h("td", {}, actions(item, ctx, (updated) => tr.replaceWith(row(updated, ctx, { showCustomer })))),
  ];
  tr.append(...cells.filter(Boolean));
  return tr;
}

/** A table of interventions with their lifecycle buttons (write keys only); `append(items)` adds rows. */
export function interventionsTable(items, ctx, { showCustomer = true, caption } = {}) {
  const headings = ["Id", showCustomer ? "Customer" : null, "Type", "Framework", "Status", "Started", "Owner", "Cost",
    "Attributed revenue", "ROI (naive)", "Outcome", "Actions"].filter(Boolean);
  const body = h("tbody", {}, items.map((item) => row(item, ctx, { showCustomer })));
  const table = h("table", { "data-table": "interventions" },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headings.map((c) => h("th", { scope: "col", class: ["Cost", "Attributed revenue", "ROI (naive)"].includes(c) ? "num" : null }, c)))),
    body);
  const wrap = tableWrap("Interventions", table);
  return {
    element: wrap,
    append: (more) => body.append(...more.map((item) => row(item, ctx, { showCustomer }))),
    prepend: (item) => body.prepend(row(item, ctx, { showCustomer })),
  };
}

