// Small DOM and formatting helpers shared by the views (no framework, no build step).

/** Make an element: h("a", {href: "#/"}, "text", child…); attrs starting with "on" are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace every child of `el`. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

/** "1 h 02 m", "3 m 05 s", "12.4 s" for a duration in seconds. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const s = Math.max(0, seconds);
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} m`;
}

/** Seconds since an ISO-8601 timestamp (null when absent). */
export function since(iso, now = Date.now()) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : (now - t) / 1000;
}

/** A short local date and time for an ISO-8601 timestamp. */
export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export const ACTIVE = new Set(["SELECTING", "PREPARING", "IMPLEMENTING", "VERIFYING", "COMPLETING"]);

/** The status badge: the API's name, coloured by kind (the text carries the meaning). */
export function badge(status) {
  const kind = ACTIVE.has(status) ? "active" : (status || "idle").toLowerCase();
  return h("span", { class: `badge badge-${kind}`, "data-status": status }, status || "–");
}
