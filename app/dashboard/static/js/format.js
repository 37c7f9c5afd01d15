// How numbers are written on screen: one formatter per kind, in a fixed locale (en-US) so the figures read the
// same for everyone and tests can compare them with the API's values.

const LOCALE = "en-US";
let currency = "USD";
let moneyWhole = makeMoney(0);
let moneyCents = makeMoney(2);

function makeMoney(digits) {
  return new Intl.NumberFormat(LOCALE, {
    style: "currency",
    currency,
    signDisplay: "negative",
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** The reporting currency, from an answer's meta.currency. */
export function setCurrency(code) {
  if (code && code !== currency) {
    currency = code;
    moneyWhole = makeMoney(0);
    moneyCents = makeMoney(2);
  }
}

// signDisplay "negative": no minus on a value that rounds to zero ("-0.00" would read as a loss).
const fixed = (digits) =>
  new Intl.NumberFormat(LOCALE, { minimumFractionDigits: digits, maximumFractionDigits: digits, signDisplay: "negative" });
const PERCENT = new Intl.NumberFormat(LOCALE, {
  style: "percent",
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
  signDisplay: "negative",
});
const ONE = fixed(1);
const TWO = fixed(2);
const WHOLE = fixed(0);

// Kinds: ratio (fractions as percentages: 1.07 → 107.0%), money (whole currency units), money2 (cents),
// count, score (health points and NPS, one decimal), hours, fte (two decimals), number (two decimals).
const FORMATS = {
  ratio: (v) => PERCENT.format(v),
  money: (v) => moneyWhole.format(v),
  money2: (v) => moneyCents.format(v),
  count: (v) => WHOLE.format(v),
  score: (v) => ONE.format(v),
  hours: (v) => `${ONE.format(v)} h`,
  fte: (v) => TWO.format(v),
  number: (v) => TWO.format(v),
};

/** `value` written as `kind`; "—" for null (an undefined ratio, a figure with no data). */
export function format(kind, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return (FORMATS[kind] || FORMATS.number)(value);
}

/** A signed change: "+1.2 pts", "−$3,400"; ratios change in percentage points. */
export function formatChange(kind, value) {
  if (value === null || value === undefined) return "—";
  const sign = value > 0 ? "+" : value < 0 ? "−" : "±";
  const magnitude = Math.abs(value);
  const text = kind === "ratio" ? `${ONE.format(magnitude * 100)} pts` : format(kind, magnitude);
  return `${sign}${text}`;
}

/** Text of a snake_case name for people: "loss_aversion" → "Loss aversion". */
export function humanize(name) {
  if (!name) return "—";
  const words = String(name).replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
