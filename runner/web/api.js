// The HTTP API: the tab's token (sessionStorage only), JSON errors, one retry after a 401.

const TOKEN_KEY = "devteam-runner-token";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
    this.details = error.details || [];
    this.allowedStatuses = body && body.allowedStatuses;
    this.currentStatus = body && body.currentStatus;
  }

  /** What a person reads: the API's message, plus the allowed statuses of a refused action. */
  describe() {
    let text = this.message;
    if (this.allowedStatuses && !text.includes("valid in")) {
      text += ` (allowed while: ${this.allowedStatuses.join(", ") || "none"})`;
    }
    return text;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

let askToken = async () => null;

/** Set the function that asks the person for a token (returns it, or null if they cancel). */
export function onUnauthorized(fn) {
  askToken = fn;
}

/** Call the API; resolve with the JSON body, reject with an ApiError. */
export async function api(method, path, body) {
  for (let attempt = 0; ; attempt += 1) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const t = token();
    if (t) headers.Authorization = `Bearer ${t}`;
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    if (response.status === 401 && attempt < 3) {
      const given = await askToken(new ApiError(401, parsed).message);
      if (given) continue;
    }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }
}

/** The WebSocket URL of /ws/devteam (browsers cannot set headers: the token goes in the query). */
export function socketUrl(params) {
  const url = new URL("/ws/devteam", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined) url.searchParams.set(key, String(value));
  }
  const t = token();
  if (t) url.searchParams.set("token", t);
  return url.toString();
}
