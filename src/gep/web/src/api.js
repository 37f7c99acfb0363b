// The one way the app calls GEP: same-origin fetches (the session cookie signs them in),
// problem+json turned into an ApiError that names the field, JSON in and out.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.field = problem.field || null;
    this.problem = problem;
  }
}

const root = new URL("..", document.baseURI); // the app lives at <root>/ui/

export function apiUrl(path, params) {
  const url = new URL(path.replace(/^\//, ""), root);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  return url.href;
}

export async function api(path, { method = "GET", params, body, headers = {}, raw = false } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    if (body instanceof FormData || body instanceof Blob) init.body = body;
    else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = headers["Content-Type"] || "application/json";
    }
  }
  const res = await fetch(path.startsWith("http") ? path : apiUrl(path, params), init);
  if (raw) return res;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!res.ok) throw new ApiError(res.status, data || {});
  return data;
}

export function errorText(err) {
  if (err instanceof ApiError) return err.field ? `${err.message} (${err.field})` : err.message;
  return String(err && err.message ? err.message : err);
}
