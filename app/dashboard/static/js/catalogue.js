// How the scorecard's entries read on screen: a label and the kind of number (which formatter). The figures
// themselves, their order and quadrants come from the API; an entry missing here is shown by its name.

export const QUADRANTS = [
  ["financial", "Financial"],
  ["customer", "Customer"],
  ["process", "Process"],
  ["people", "People"],
];

export const ENTRIES = {
  nrr: ["NRR", "ratio"],
  grr: ["GRR", "ratio"],
  nrr_ttm: ["NRR, trailing 12 months", "ratio"],
  grr_ttm: ["GRR, trailing 12 months", "ratio"],
  net_renewal_rate: ["Net renewal rate", "ratio"],
  raw_renewal_rate: ["Raw renewal rate", "ratio"],
  arr_growth: ["ARR growth (end / start)", "ratio"],
  churned_arr: ["Churned ARR", "money"],
  expansion_arr: ["Expansion ARR", "money"],
  cs_cost: ["CS cost", "money"],
  cost_per_1k: ["CS cost per $1K renewed", "money2"],
  cost_per_1k_12m_avg: ["Cost per $1K, 12-month average", "money2"],
  cost_per_1k_ttm: ["Cost per $1K, trailing 12 months", "money2"],
  roi: ["CS ROI (incremental)", "ratio"],
  roi_naive: ["CS ROI (naive)", "ratio"],
  clv: ["Customer lifetime value", "money"],
  nps: ["NPS", "score"],
  csat: ["CSAT (share satisfied)", "ratio"],
  ces: ["CES (mean answer)", "number"],
  logo_churn_rate: ["Logo churn rate", "ratio"],
  red_customers: ["Red customers", "count"],
  red_arr: ["Red ARR", "money"],
  yellow_customers: ["Yellow customers", "count"],
  yellow_arr: ["Yellow ARR", "money"],
  green_customers: ["Green customers", "count"],
  green_arr: ["Green ARR", "money"],
  no_score_customers: ["Customers without a score", "count"],
  no_score_arr: ["ARR without a score", "money"],
  revenue_at_risk: ["Revenue at risk", "money"],
  interventions_started: ["Interventions started", "count"],
  interventions_completed: ["Interventions completed", "count"],
  outcome_rate: ["Outcome rate (met / measured)", "ratio"],
  health_lift: ["Health lift (points)", "score"],
  median_first_response_hours: ["Median first response", "hours"],
  median_resolution_hours: ["Median resolution", "hours"],
  csms: ["CSMs", "count"],
  onboarding_reps: ["Onboarding reps", "count"],
  customers_per_csm: ["Customers per CSM", "number"],
  arr_per_csm: ["ARR per CSM", "money"],
  customers_per_onboarding_rep: ["Customers per onboarding rep", "number"],
  csms_needed_high_touch: ["CSMs needed, high touch (FTE)", "fte"],
  csms_needed_low_touch: ["CSMs needed, low touch (FTE)", "fte"],
  csms_needed_tech_touch: ["CSMs needed, tech touch (FTE)", "fte"],
  csms_needed: ["CSMs needed", "count"],
  csm_gap: ["CSM gap (needed − on staff)", "count"],
};

/** [label, kind] of a scorecard entry. */
export function entryInfo(metric) {
  return ENTRIES[metric] || [metric, "number"];
}
