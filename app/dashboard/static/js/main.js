// The dashboard's shell: sign-in with an API key, the navigation, and a hash router that renders one page at a
// time into <main>. The key never appears in a URL: routes are fragments (#/health), the key is a header.

import * as api from "./api.js";
import { field, fill, h } from "./dom.js";
import { setCurrency } from "./format.js";
import { drawCharts } from "./ui.js";

const PAGES = {
  scorecard: { title: "Scorecard", load: () => import("./pages/scorecard.js") },
  retention: { title: "Retention", load: () => import("./pages/retention.js") },
  health: { title: "Health", load: () => import("./pages/health.js") },
  customers: { title: "Customer", nav: "health", load: () => import("./pages/customer.js") },
  roi: { title: "ROI", load: () => import("./pages/roi.js") },
  interventions: { title: "Interventions", load: () => import("./pages/interventions.js") },
};
const DEFAULT_PAGE = "scorecard";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const announcer = document.getElementById("announcer");
let me = null;
let renderCount = 0;

/** Say something to screen readers (a polite live region). */
export function announce(text) {
  announcer.textContent = "";
  window.setTimeout(() => (announcer.textContent = text), 50);
}

/** A fragment's path segment as text; a malformed escape (typed by hand) is taken literally. */
function decodeSegment(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The current route: #/health?band=red → {page: "health", rest: [], params}. */
function route() {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(2) : "";
  const [path, query = ""] = raw.split("?");
  const [page, ...rest] = path.split("/").filter(Boolean).map(decodeSegment);
  return { page: PAGES[page] ? page : DEFAULT_PAGE, rest, params: new URLSearchParams(query) };
}

/** Go to a route; `params` (an object) become the fragment's query, which keeps a page's state bookmarkable. */
export function navigate(page, { rest = [], params = {}, replace = false } = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined));
  const path = [page, ...rest].map(encodeURIComponent).join("/");
  const hash = `#/${path}${query.size ? `?${query}` : ""}`;
  if (replace) {
    history.replaceState(null, "", hash);
    render();
  } else if (location.hash === hash) render();
  else location.hash = hash;
}

/** An error answer as a notice: the problem's title and detail, each field error, and the request id. */
export function problemView(error) {
  const problem = error.problem || { title: "The request failed", detail: String(error.message || error) };
  return h(
    "div",
    { class: "problem", role: "alert" },
    h("strong", {}, problem.title || "Error"),
    problem.detail ? h("p", {}, problem.detail) : null,
    Array.isArray(problem.errors) && problem.errors.length
      ? h("ul", {}, problem.errors.map((e) => h("li", {}, `${(e.loc || []).slice(1).join(".") || "input"}: ${e.msg}`)))
      : null,
    problem.request_id ? h("p", { class: "request-id" }, `Request id: ${problem.request_id}`) : null,
  );
}

function setState(state) {
  main.dataset.state = state;
  main.dataset.render = String(renderCount);
  main.setAttribute("aria-busy", state === "loading" ? "true" : "false");
}

async function render({ focus = false } = {}) {
  if (!me) return;
  const current = route();
  const page = PAGES[current.page];
  const count = ++renderCount;
  const section = h("div", { class: "page", "data-page": current.page });
  fill(main, section);
  setState("loading");
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.page === (page.nav || current.page)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${page.title} · csroi dashboard`;
  const ctx = {
    rest: current.rest,
    params: current.params,
    canWrite: me.effective_scopes.includes("write"),
    navigate,
    announce,
    drawCharts,
    problemView,
    isCurrent: () => count === renderCount,
    currency: setCurrency,
  };
  try {
    const module = await page.load();
    await module.render(section, ctx);
    if (count !== renderCount) return;
    drawCharts(section);
    setState("ready");
  } catch (error) {
    if (count !== renderCount) return;
    section.append(problemView(error));
    setState("error");
  }
  if (focus) section.querySelector("h1")?.focus();
}

function showSignedIn() {
  nav.hidden = false;
  who.hidden = false;
  const scopes = me.effective_scopes.includes("write") ? me.scopes.join(", ") : `${me.scopes.join(", ")}, read only`;
  fill(document.getElementById("who-name"), h("span", { class: "key-name" }, me.name), ` (${scopes})`);
  render();
}

function signInForm(message) {
  const input = h("input", { type: "password", name: "key", autocomplete: "off", spellcheck: "false", required: true });
  const error = h("p", { class: "form-error", role: "alert" }, message || "");
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "signin", "aria-labelledby": "signin-title", novalidate: true },
    h("h1", { id: "signin-title", tabindex: "-1" }, "Sign in"),
    h("p", {}, "Paste an API key (from ", h("code", {}, "csroi keys create"), "). It stays in this tab's " +
      "session storage and is sent only in the Authorization header."),
    field("API key", input),
    button,
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      error.textContent = "Enter an API key.";
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      me = await api.request("GET", "me", { key });
      api.setKey(key);
      showSignedIn();
    } catch (err) {
      error.textContent = err.status === 401 ? "This key is unknown or revoked." : `Sign-in failed: ${err.message}`;
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function signOut(message) {
  api.clearKey();
  me = null;
  renderCount += 1;
  nav.hidden = true;
  who.hidden = true;
  document.title = "Sign in · csroi dashboard";
  fill(main, signInForm(message));
  setState("signin");
  main.querySelector("input").focus();
}

async function start() {
  document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault(); // the fragment is the router's: move focus instead of changing it
    (main.querySelector("h1") || main).focus();
  });
  window.addEventListener("hashchange", () => render({ focus: true }));
  let resizing = 0;
  window.addEventListener("resize", () => {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(() => drawCharts(main), 150);
  });
  window.addEventListener("csroi:unauthorized", () => signOut("Your key was refused (revoked?). Sign in again."));
  const key = api.getKey();
  if (!key) return signOut();
  try {
    me = await api.request("GET", "me", { key });
    showSignedIn();
  } catch (err) {
    signOut(err.status === 401 ? "Your key was refused (revoked?). Sign in again." : `Sign-in failed: ${err.message}`);
  }
}

start();
