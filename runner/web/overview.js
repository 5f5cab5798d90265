// Every customer at a glance, kept live by an all-customers feed.

import { api } from "./api.js";
import { ACTIVE, badge, duration, fill, h, since } from "./dom.js";

/** The customers the page knows, by id: {customer, state, stageSince}. */
export class Customers {
  constructor() {
    this.byId = new Map();
    this.listeners = new Set();
  }

  /** Take the snapshot of GET /customers (a row newer from a frame keeps its state). */
  load(list) {
    const seen = new Set();
    for (const customer of list) {
      seen.add(customer.customerId);
      const known = this.byId.get(customer.customerId);
      const state = customer.state;
      if (known && known.state.lastUpdate && state.lastUpdate < known.state.lastUpdate) {
        known.customer = customer;
        continue;
      }
      this.byId.set(customer.customerId, { customer, state, stageSince: state.lastUpdate });
    }
    for (const id of [...this.byId.keys()]) if (!seen.has(id)) this.byId.delete(id);
    this.changed(null);
  }

  /** Apply an execution-update frame. */
  update(frame) {
    const entry = this.byId.get(frame.customerId);
    if (!entry) return false; // a customer registered meanwhile: the next snapshot has it
    const state = entry.state;
    if (frame.timestamp && state.lastUpdate && frame.timestamp < state.lastUpdate) return true;
    if (frame.status !== state.status) entry.stageSince = frame.timestamp;
    Object.assign(state, {
      status: frame.status,
      progress: frame.progress,
      currentTask: frame.taskId,
      branch: frame.branch,
      runId: frame.runId,
      lastUpdate: frame.timestamp,
      attempt: frame.attempt,
      maxAttempts: frame.maxAttempts,
      error: frame.error || null,
    });
    this.changed(frame.customerId);
    return true;
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(id) {
    for (const fn of this.listeners) fn(id);
  }
}

export async function loadCustomers(customers) {
  const body = await api("GET", "/customers");
  customers.load(body.customers);
}

function errorText(error) {
  return error ? `${error.code}: ${error.message}` : "–";
}

function attemptText(state) {
  return state.attempt ? `${state.attempt} / ${state.maxAttempts ?? "?"}` : "–";
}

function stageTime(entry) {
  return ACTIVE.has(entry.state.status) ? duration(since(entry.stageSince)) : "–";
}

function row(id, entry) {
  const { state } = entry;
  const progress = Math.round(state.progress ?? 0);
  const counts = state.totalTasks ? ` · ${state.completedTasks}/${state.totalTasks}` : "";
  return h(
    "tr",
    { "data-customer": id },
    h("th", { scope: "row" }, h("a", { href: `#/customers/${encodeURIComponent(id)}` }, id)),
    h("td", { "data-label": "Status" }, badge(state.status)),
    h(
      "td",
      { "data-label": "Progress" },
      h("progress", { max: 100, value: progress, "aria-label": `Progress of ${id}` }),
      h("span", { class: "progress-text" }, `${progress} %${counts}`),
    ),
    h("td", { "data-label": "Task" }, state.currentTask || "–"),
    h("td", { "data-label": "Attempt" }, attemptText(state)),
    h("td", { "data-label": "In stage", class: "stage-time" }, stageTime(entry)),
    h("td", { "data-label": "Last error", class: "error-cell" }, errorText(state.error)),
  );
}

/** The overview table: whole render on a snapshot, one row per frame, in animation frames. */
export class OverviewView {
  constructor(root, customers) {
    this.root = root;
    this.customers = customers;
    this.body = root.querySelector("#customers tbody");
    this.empty = root.querySelector("#no-customers");
    this.dirty = new Set();
    this.all = true;
    this.scheduled = false;
    this.unsubscribe = customers.subscribe((id) => this.mark(id));
    this.ticker = setInterval(() => this.tick(), 1000);
    this.mark(null);
  }

  mark(id) {
    if (id === null) this.all = true;
    else this.dirty.add(id);
    if (!this.scheduled) {
      this.scheduled = true;
      requestAnimationFrame(() => this.render());
    }
  }

  render() {
    this.scheduled = false;
    const { byId } = this.customers;
    if (this.all) {
      const ids = [...byId.keys()].sort();
      fill(this.body, ids.map((id) => row(id, byId.get(id))));
      this.empty.hidden = ids.length > 0;
      this.root.querySelector("#customers").hidden = ids.length === 0;
    } else {
      for (const id of this.dirty) {
        const old = this.body.querySelector(`tr[data-customer="${CSS.escape(id)}"]`);
        if (old && byId.has(id)) old.replaceWith(row(id, byId.get(id)));
      }
    }
    this.all = false;
    this.dirty.clear();
    this.root.dataset.rendered = String(byId.size);
    if (!this.root.dataset.firstRenderMs && byId.size) {
      this.root.dataset.firstRenderMs = String(Math.round(performance.now())); // since navigation
    }
  }

  tick() {
    for (const tr of this.body.querySelectorAll("tr[data-customer]")) {
      const entry = this.customers.byId.get(tr.dataset.customer);
      const cell = tr.querySelector(".stage-time");
      if (entry && cell && ACTIVE.has(entry.state.status)) cell.textContent = stageTime(entry);
    }
  }

  destroy() {
    this.unsubscribe();
    clearInterval(this.ticker);
  }
}
