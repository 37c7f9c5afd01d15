// Hand-drawn SVG charts. Each returns an <svg role="img"> with a label that says what it shows; every mark has
// a <title> (its value on hover), and the pages print the same numbers in tables next to the charts.

import { s } from "./dom.js";
import { format } from "./format.js";

const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const AXIS_PERCENT = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 0 });

/** An axis tick: shorter than a table figure ($6.4M, 105%). */
export function axisLabel(kind, value) {
  if (kind === "ratio") return AXIS_PERCENT.format(value);
  if (kind === "money" || kind === "money2") return `${value < 0 ? "−" : ""}$${COMPACT.format(Math.abs(value))}`;
  return COMPACT.format(value);
}

/** About `count` round tick values covering [min, max]. */
export function ticks(min, max, count = 4) {
  if (min === max) {
    const pad = Math.abs(min) * 0.1 || 1;
    return ticks(min - pad, max + pad, count);
  }
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((m) => m >= raw);
  const first = Math.floor(min / step) * step;
  const out = [];
  for (let v = first; v <= max + step * 1e-9; v += step) out.push(Number(v.toFixed(12)));
  if (out[out.length - 1] < max) out.push(Number((out[out.length - 1] + step).toFixed(12)));
  return out;
}

const linear = (d0, d1, r0, r1) => (v) => (d1 === d0 ? (r0 + r1) / 2 : r0 + ((v - d0) * (r1 - r0)) / (d1 - d0));
const finite = (values) => values.filter((v) => typeof v === "number" && Number.isFinite(v));

function frame(width, height, label, cls, name) {
  return s("svg", {
    class: ["chart", cls],
    "data-chart": name,
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": label,
    preserveAspectRatio: "xMinYMin meet",
  });
}

function yAxis(svg, values, { kind, top, bottom, left, right }) {
  const domain = ticks(Math.min(...values), Math.max(...values));
  const y = linear(domain[0], domain[domain.length - 1], bottom, top);
  for (const t of domain) {
    svg.append(
      s("line", { class: "grid", x1: left, x2: right, y1: y(t), y2: y(t) }),
      s("text", { class: "tick", x: left - 6, y: y(t), "text-anchor": "end", "dominant-baseline": "middle" },
        axisLabel(kind, t)),
    );
  }
  return y;
}

function xLabels(svg, labels, x, y0, maxLabels) {
  // Counted back from the last label, so the newest period is always named and the spacing stays even.
  const every = Math.max(1, Math.ceil(labels.length / Math.max(1, maxLabels)));
  labels.forEach((label, i) => {
    if ((labels.length - 1 - i) % every !== 0) return;
    svg.append(s("text", { class: "tick", x: x(i), y: y0 + 16, "text-anchor": "middle" }, label));
  });
}

/** Up to two lines of at most `chars` characters each (the second cut with "…"). */
function wrapText(text, chars) {
  const words = String(text).split(" ");
  const lines = [""];
  for (const word of words) {
    const line = lines[lines.length - 1];
    if (!line || `${line} ${word}`.length <= chars) lines[lines.length - 1] = line ? `${line} ${word}` : word;
    else lines.push(word);
  }
  const out = lines.slice(0, 2);
  if (lines.length > 2 || out[1]?.length > chars) out[1] = `${out[1].slice(0, Math.max(1, chars - 1))}…`;
  if (out[0].length > chars) out[0] = `${out[0].slice(0, Math.max(1, chars - 1))}…`;
  return out;
}

/** Runs of consecutive non-null points, as "x,y x,y" strings (a null breaks the line). */
function runs(values, x, y) {
  const out = [];
  let run = [];
  values.forEach((v, i) => {
    if (typeof v === "number" && Number.isFinite(v)) run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    else if (run.length) (out.push(run.join(" ")), (run = []));
  });
  if (run.length) out.push(run.join(" "));
  return out;
}

/** A small trend line with no axes; the last point is marked. */
export function sparkline(values, { label, width = 120, height = 28, name = "sparkline" }) {
  const svg = frame(width, height, label, "sparkline", name);
  const known = finite(values);
  if (!known.length) return svg;
  const x = linear(0, Math.max(values.length - 1, 1), 2, width - 4);
  const y = linear(Math.min(...known), Math.max(...known), height - 3, 3);
  for (const points of runs(values, x, y)) svg.append(s("polyline", { class: "line", points }));
  const last = values.length - 1;
  if (typeof values[last] === "number") {
    svg.append(s("circle", { class: "dot", cx: x(last), cy: y(values[last]), r: 2.5 }));
  }
  return svg;
}

/** Lines over labelled x positions: series [{name, values, cls}], optional horizontal `reference` value. */
export function lineChart({ labels, series, kind, width, height = 240, label, reference, shortLabels, name }) {
  const svg = frame(width, height, label, "line-chart", name);
  const all = finite(series.flatMap((one) => one.values));
  if (reference !== undefined) all.push(reference);
  if (!all.length) return svg;
  const box = { kind, top: 10, bottom: height - 26, left: 52, right: width - 10 };
  const y = yAxis(svg, all, box);
  const x = linear(0, Math.max(labels.length - 1, 1), box.left + 8, box.right - 8);
  if (reference !== undefined) {
    svg.append(s("line", { class: "reference", x1: box.left, x2: box.right, y1: y(reference), y2: y(reference) }));
  }
  xLabels(svg, shortLabels || labels, x, box.bottom, Math.floor(width / 56));
  for (const one of series) {
    const g = s("g", { class: ["series", one.cls] });
    for (const points of runs(one.values, x, y)) g.append(s("polyline", { class: "line", points }));
    one.values.forEach((v, i) => {
      if (typeof v !== "number") return;
      g.append(s("circle", { class: "dot", cx: x(i), cy: y(v), r: 3 }, s("title", {}, `${labels[i]}: ${one.name} ${format(kind, v)}`)));
    });
    svg.append(g);
  }
  return svg;
}

/** Stacked columns: series [{name, values, cls}] stacked per label, bottom to top in order. */
export function stackedBars({ labels, series, kind, width, height = 240, label, shortLabels, name }) {
  const svg = frame(width, height, label, "bar-chart", name);
  const totals = labels.map((_, i) => series.reduce((sum, one) => sum + (one.values[i] || 0), 0));
  const box = { kind, top: 10, bottom: height - 26, left: 52, right: width - 10 };
  const y = yAxis(svg, [0, ...totals], box);
  const band = (box.right - box.left) / Math.max(labels.length, 1);
  const x = (i) => box.left + band * (i + 0.5);
  xLabels(svg, shortLabels || labels, x, box.bottom, Math.floor(width / 56));
  labels.forEach((name, i) => {
    let base = 0;
    for (const one of series) {
      const v = one.values[i] || 0;
      if (v > 0) {
        const top = y(base + v);
        svg.append(
          s("rect", { class: ["bar", one.cls], x: x(i) - band * 0.35, width: band * 0.7, y: top, height: y(base) - top },
            s("title", {}, `${name}: ${one.name} ${format(kind, v)}`)),
        );
      }
      base += v;
    }
  });
  return svg;
}

/** A waterfall: steps [{label, value, total}] where totals stand on zero and the others float up or down. */
export function waterfall({ steps, kind, width, height = 260, label, name }) {
  const svg = frame(width, height, label, "waterfall", name);
  const levels = [];
  let level = 0;
  for (const step of steps) {
    const from = step.total ? 0 : level;
    const to = step.total ? step.value : level + step.value;
    levels.push([from, to]);
    level = to;
  }
  const band = (width - 68) / steps.length;
  const box = { kind, top: 18, bottom: height - (band < 52 ? 38 : 26), left: 58, right: width - 10 };
  const y = yAxis(svg, levels.flat(), box);
  const x = (i) => box.left + band * (i + 0.5);
  steps.forEach((step, i) => {
    const [from, to] = levels[i];
    const cls = step.total ? "total" : step.value >= 0 ? "up" : "down";
    const top = y(Math.max(from, to));
    const barHeight = Math.max(1, Math.abs(y(from) - y(to)));
    // Narrow bands alternate their labels between two lines so neighbours never overlap.
    const labelY = box.bottom + 14 + (band < 52 && i % 2 === 1 ? 12 : 0);
    svg.append(
      s("rect", { class: ["bar", cls], x: x(i) - band * 0.35, width: band * 0.7, y: top, height: barHeight },
        s("title", {}, `${step.label}: ${format(kind, step.value)}`)),
      s("text", { class: "tick", x: x(i), y: labelY, "text-anchor": "middle" }, step.short || step.label),
    );
    if (i < steps.length - 1) {
      svg.append(s("line", { class: "connector", x1: x(i) + band * 0.35, x2: x(i + 1) - band * 0.35, y1: y(to), y2: y(to) }));
    }
  });
  return svg;
}

/** Horizontal bars with intervals: rows [{label, bars: [{name, value, low, high, cls}]}], a zero line. */
export function rangeBars({ rows, kind, width, label, name }) {
  const barsPer = Math.max(1, ...rows.map((row) => row.bars.length));
  const rowHeight = 14 * barsPer + 14;
  const height = rows.length * rowHeight + 30;
  const svg = frame(width, height, label, "range-bars", name);
  const values = finite(rows.flatMap((row) => row.bars.flatMap((bar) => [bar.value, bar.low, bar.high])));
  if (!values.length) return svg;
  const labelWidth = Math.min(150, width * 0.3);
  const domain = ticks(Math.min(0, ...values), Math.max(0, ...values), Math.max(2, Math.floor((width - labelWidth) / 90)));
  const x = linear(domain[0], domain[domain.length - 1], labelWidth + 4, width - 12);
  for (const t of domain) {
    svg.append(
      s("line", { class: "grid", x1: x(t), x2: x(t), y1: 4, y2: height - 22 }),
      s("text", { class: "tick", x: x(t), y: height - 8, "text-anchor": "middle" }, axisLabel(kind, t)),
    );
  }
  svg.append(s("line", { class: "reference", x1: x(0), x2: x(0), y1: 4, y2: height - 22 }));
  rows.forEach((row, r) => {
    const top = 6 + r * rowHeight;
    const lines = wrapText(row.label, Math.floor(labelWidth / 6.4));
    const middle = top + (rowHeight - 14) / 2 + 2;
    svg.append(s("text", { class: "label", x: labelWidth, y: middle - (lines.length - 1) * 6, "text-anchor": "end", "dominant-baseline": "middle" },
      s("title", {}, row.label),
      lines.map((line, i) => s("tspan", { x: labelWidth, dy: i ? 12 : 0 }, line))));
    row.bars.forEach((bar, b) => {
      if (typeof bar.value !== "number") return;
      const y0 = top + b * 14;
      const left = Math.min(x(0), x(bar.value));
      const range = typeof bar.low === "number" && typeof bar.high === "number";
      const title = `${row.label}: ${bar.name} ${format(kind, bar.value)}` +
        (range ? ` (${format(kind, bar.low)} to ${format(kind, bar.high)})` : "");
      svg.append(s("rect", { class: ["bar", bar.cls], x: left, y: y0, width: Math.max(1, Math.abs(x(bar.value) - x(0))), height: 10 },
        s("title", {}, title)));
      if (range) {
        svg.append(s("g", { class: "whisker" },
          s("line", { x1: x(bar.low), x2: x(bar.high), y1: y0 + 5, y2: y0 + 5 }),
          s("line", { x1: x(bar.low), x2: x(bar.low), y1: y0 + 1, y2: y0 + 9 }),
          s("line", { x1: x(bar.high), x2: x(bar.high), y1: y0 + 1, y2: y0 + 9 })));
      }
    });
  });
  return svg;
}
