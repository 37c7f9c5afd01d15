// The public API, called with the signed-in key. The key lives in sessionStorage (gone when the tab closes) and
// travels only in the Authorization header, never in a URL.

const KEY_ITEM = "csroi.apiKey";
// The API's root relative to this page (/app/ → /v1/), so the dashboard also works behind a path prefix.
const API_ROOT = new URL("../v1/", document.baseURI);

export class ApiError extends Error {
  /** An answer that was not 2xx: `problem` is its RFC 9457 document (or a stand-in when it had none). */
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function getKey() {
  return sessionStorage.getItem(KEY_ITEM);
}

export function setKey(key) {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function clearKey() {
  sessionStorage.removeItem(KEY_ITEM);
}

/** The URL of an API path with its query; empty and null parameters are left out (the API treats them so too). */
export function apiUrl(path, params = {}) {
  const url = new URL(path, API_ROOT);
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, String(value));
  }
  return url;
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return { title: response.statusText || "Error", status: response.status };
  }
}

/** Call the API; resolves to the JSON answer (null for 204), rejects with ApiError. A 401 signs out. */
export async function request(method, path, { params, body, key } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${key ?? getKey() ?? ""}` };
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(apiUrl(path, params), init);
  if (!response.ok) {
    const problem = await problemOf(response);
    if (response.status === 401 && key === undefined) window.dispatchEvent(new CustomEvent("csroi:unauthorized"));
    throw new ApiError(response.status, problem);
  }
  return response.status === 204 ? null : response.json();
}

export const get = (path, params) => request("GET", path, { params });
export const post = (path, body) => request("POST", path, { body: body ?? {} });

/** Run `tasks` (functions returning promises) at most `limit` at a time; resolves to their results in order. */
export async function pooled(tasks, limit = 4) {
  const results = new Array(tasks.length);
  let next = 0;
  async function worker() {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]();
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
