// Calendar months as the API writes them (YYYY-MM), computed in UTC so every reader gets the same month.

const pad = (n) => String(n).padStart(2, "0");

/** YYYY-MM of a Date's UTC month. */
export function monthOf(date) {
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}`;
}

/** The month `n` months after `month` (n may be negative). */
export function addMonths(month, n) {
  const [year, number] = month.split("-").map(Number);
  return monthOf(new Date(Date.UTC(year, number - 1 + n, 1)));
}

/** The last month that has ended: the scorecard's and the metrics' natural default. */
export function lastCompleteMonth(today = new Date()) {
  return addMonths(monthOf(today), -1);
}

export const monthStart = (month) => `${month}-01`;

export function monthEnd(month) {
  const [year, number] = month.split("-").map(Number);
  const last = new Date(Date.UTC(year, number, 0)).getUTCDate();
  return `${month}-${pad(last)}`;
}

/** `count` months ending with `last`, oldest first. */
export function monthsEnding(last, count) {
  return Array.from({ length: count }, (_, i) => addMonths(last, i - count + 1));
}

const LABEL = new Intl.DateTimeFormat("en-US", { month: "short", year: "numeric", timeZone: "UTC" });
const SHORT = new Intl.DateTimeFormat("en-US", { month: "short", timeZone: "UTC" });
const DAY_SHORT = new Intl.DateTimeFormat("en-US", { day: "numeric", month: "short", timeZone: "UTC" });
const DAY = new Intl.DateTimeFormat("en-US", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });

/** "Oct 2026" for 2026-10 (or for a date in it). */
export function monthLabel(monthOrDate) {
  return LABEL.format(new Date(`${monthOrDate.slice(0, 7)}-01T00:00:00Z`));
}

/** "Oct" for 2026-10: axis ticks. */
export function monthShort(monthOrDate) {
  return SHORT.format(new Date(`${monthOrDate.slice(0, 7)}-01T00:00:00Z`));
}

/** "9 May 2026" for 2026-05-09. */
export function dayLabel(isoDate) {
  return isoDate ? DAY.format(new Date(`${isoDate}T00:00:00Z`)) : "—";
}

/** "May 9" for 2026-05-09: axis ticks. */
export function dayShort(isoDate) {
  return DAY_SHORT.format(new Date(`${isoDate}T00:00:00Z`));
}

export const isMonth = (text) => /^[0-9]{4}-(0[1-9]|1[0-2])$/.test(text || "");
