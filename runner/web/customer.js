// One customer: summary, actions, last error with VERIFY's results, live log, tasks, runs.

import { api } from "./api.js";
import { ACTIVE, badge, duration, fill, h, since, when } from "./dom.js";
import { LiveFeed } from "./live.js";
import { LogView } from "./log.js";

const RESTING = new Set(["IDLE", "PAUSED", "STOPPED", "FAILED", "DONE"]);

export class CustomerView {
  /** `app` gives: confirm(text) -> Promise<bool>, editCustomer(customer), feedState(feed, s). */
  constructor(root, customerId, app) {
    this.root = root;
    this.id = customerId;
    this.app = app;
    this.$ = (selector) => root.querySelector(selector);
    this.state = null;
    this.customer = null;
    this.stageSince = null;
    this.timers = new Map();
    this.log = new LogView({
      box: this.$("#log"),
      filter: this.$("#log-filter"),
      follow: this.$("#log-follow"),
      count: this.$("#log-count"),
    });
    fill(this.$("#log"));
    fill(this.$("#customer-title"), customerId);
    for (const sel of ["#summary", "#error-box", "#timeline", "#runs", "#task-tree"]) {
      fill(this.$(sel));
    }
    delete root.dataset.status;
    delete this.$("#task-tree").dataset.loaded;
    this.say("");
    this.listeners = [];
    this.listen("#run-form", "submit", (event) => {
      event.preventDefault();
      const stopAfter = this.$("#stop-after").value.trim();
      this.act("run", stopAfter ? { stopAfterTask: stopAfter } : {});
    });
    this.listen("#pause", "click", () => this.act("pause"));
    this.listen("#resume", "click", () => this.act("resume"));
    this.listen("#stop", "click", () => this.stop());
    this.listen("#edit", "click", () => this.customer && app.editCustomer(this.customer));
    this.listen("#reload-tasks", "click", () => this.loadTasks());
    this.ticker = setInterval(() => this.tickStage(), 1000);
    this.start();
  }

  listen(selector, type, fn) {
    const el = this.$(selector);
    el.addEventListener(type, fn);
    this.listeners.push(() => el.removeEventListener(type, fn));
  }

  async start() {
    try {
      const customer = await api("GET", `/customers/${encodeURIComponent(this.id)}`);
      if (this.closed) return;
      this.customer = customer;
      this.showState(customer.state, customer.state.lastUpdate);
    } catch (error) {
      this.say(error.describe ? error.describe() : String(error), true);
      return;
    }
    // the retained history replays first (since=0), then live frames; resumes after a drop
    this.feed = new LiveFeed({
      customerId: this.id,
      since: 0,
      onFrame: (frame) => this.frame(frame),
      onState: (feed, s) => this.app.feedState(feed, s),
    });
    this.loadTasks();
    this.loadRuns();
  }

  frame(frame) {
    if (frame.customerId !== this.id) return;
    if (frame.type === "execution-log") {
      this.log.add(frame);
    } else if (frame.type === "execution-update") {
      const before = this.state ? this.state.status : null;
      const state = {
        ...this.state,
        status: frame.status,
        progress: frame.progress,
        currentTask: frame.taskId,
        branch: frame.branch,
        runId: frame.runId,
        attempt: frame.attempt,
        maxAttempts: frame.maxAttempts,
        error: frame.error || null,
        lastUpdate: frame.timestamp,
      };
      this.showState(state, frame.status !== before ? frame.timestamp : this.stageSince);
      if (frame.status !== before) {
        this.later("runs", () => this.loadRuns(), 300);
        if (frame.status === "SELECTING" || RESTING.has(frame.status)) {
          this.later("tasks", () => this.loadTasks(), 300);
        }
      }
    }
  }

  later(key, fn, ms) {
    clearTimeout(this.timers.get(key));
    this.timers.set(key, setTimeout(fn, ms));
  }

  showState(state, stageSince) {
    this.state = state;
    this.stageSince = stageSince;
    this.root.dataset.status = state.status;
    const progress = Math.round(state.progress ?? 0);
    const counts = state.totalTasks ? ` (${state.completedTasks} of ${state.totalTasks} tasks)` : "";
    const item = (term, ...value) => [h("dt", {}, term), h("dd", {}, ...value)];
    const c = this.customer || {};
    fill(
      this.$("#summary"),
      item("Status", badge(state.status), state.pauseRequested ? " (pause requested)" : ""),
      item(
        "Progress",
        h("progress", { max: 100, value: progress, "aria-label": "Progress" }),
        ` ${progress} %${counts}`,
      ),
      item("Current task", state.currentTask || "–"),
      item("Attempt", state.attempt ? `${state.attempt} of ${state.maxAttempts ?? "?"}` : "–"),
      item("In stage", h("span", { id: "stage-time" }, this.stageText())),
      item("Branch", state.branch || "–"),
      item("Repository", c.repoUrl || "–", c.baseBranch ? ` (${c.baseBranch})` : ""),
      item("Tool", c.tool || "–"),
    );
    this.$("#pause").disabled = !ACTIVE.has(state.status);
    this.$("#resume").disabled = !["PAUSED", "FAILED", "STOPPED"].includes(state.status);
    this.$("#stop").disabled = !(ACTIVE.has(state.status) || state.status === "PAUSED");
    this.showError(state.error);
  }

  stageText() {
    return this.state && ACTIVE.has(this.state.status) ? duration(since(this.stageSince)) : "–";
  }

  tickStage() {
    const el = this.$("#stage-time");
    if (el) el.textContent = this.stageText();
  }

  showError(error) {
    const box = this.$("#error-box");
    box.closest("section").hidden = !error;
    if (!error) return fill(box);
    const parts = [
      h("p", {}, h("strong", {}, `${(error.stage || "run").toUpperCase()} failed: `),
        h("code", {}, error.code), ` ${error.message}`),
    ];
    if (error.attempt) parts.push(h("p", {}, `Attempt ${error.attempt} of ${error.maxAttempts}`));
    const results = error.details && error.details.results;
    if (results && typeof results === "object") parts.push(resultsTable(results));
    fill(box, parts);
  }

  say(text, isError = false) {
    const el = this.$("#action-message");
    el.textContent = text;
    el.classList.toggle("error", isError);
  }

  async act(action, body = {}) {
    this.say(`${action}…`);
    try {
      const state = await api("POST", `/customers/${encodeURIComponent(this.id)}/${action}`, body);
      this.say(`${action}: ${state.status}`);
    } catch (error) {
      this.say(error.describe ? error.describe() : String(error), true);
    }
  }

  async stop() {
    const ok = await this.app.confirm(
      `Stop the run of ${this.id} now? Its tool and test processes are killed and the ` +
        "workspace is reset; resume continues where it stopped.",
    );
    if (ok) await this.act("stop");
    else this.say("stop cancelled");
  }

  async loadTasks() {
    const box = this.$("#task-tree");
    const message = this.$("#tasks-message");
    message.textContent = "loading…";
    try {
      const tree = await api("GET", `/customers/${encodeURIComponent(this.id)}/tasks`);
      if (this.closed) return;
      message.textContent =
        `${tree.completedTasks} of ${tree.totalTasks} tasks done; ` +
        `next: ${tree.nextTask || "none"}`;
      fill(box, taskTree(tree));
      box.dataset.loaded = "true";
    } catch (error) {
      message.textContent = error.describe ? error.describe() : String(error);
      box.dataset.loaded = "error";
    }
  }

  async loadRuns() {
    try {
      const body = await api("GET", `/customers/${encodeURIComponent(this.id)}/runs?limit=20`);
      if (this.closed) return;
      const [current, ...older] = body.runs;
      fill(this.$("#timeline"), current ? runSummary(current, true) : h("p", {}, "No run yet."));
      fill(this.$("#runs"), older.length ? older.map((run) => h("li", {}, runSummary(run, false)))
        : h("li", {}, "No earlier run."));
    } catch (error) {
      fill(this.$("#timeline"), h("p", {}, error.describe ? error.describe() : String(error)));
    }
  }

  destroy() {
    this.closed = true;
    if (this.feed) this.feed.close();
    for (const off of this.listeners) off();
    for (const timer of this.timers.values()) clearTimeout(timer);
    clearInterval(this.ticker);
    this.log.destroy();
  }
}

function resultsTable(results) {
  const rows = Object.entries(results).map(([name, r]) => {
    const tests = ((r.details && r.details.tests) || []).filter((t) => t.status !== "passed");
    return h(
      "tr",
      { class: r.passed ? "passed" : "failed", "data-criterion": name },
      h("th", { scope: "row" }, name),
      h("td", {}, r.passed ? "met" : "NOT met"),
      h("td", {}, r.actual ?? "–"),
      h("td", {}, r.required ?? "–"),
      h("td", {}, tests.length
        ? h("ul", { class: "tests" }, tests.map((t) =>
            h("li", {}, h("code", {}, t.id), ` (${t.status})`, t.message ? `: ${t.message}` : "")))
        : "–"),
    );
  });
  return h(
    "table",
    { class: "results" },
    h("caption", {}, "VERIFY results per criterion"),
    h("thead", {}, h("tr", {}, ["Criterion", "Result", "Actual", "Required", "Failing tests"]
      .map((label) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, rows),
  );
}

function runSummary(run, open) {
  const head = `${when(run.startedAt)} · ${run.status} · ${duration(run.durationS)} in stages`;
  const rows = [];
  for (const task of run.tasks) {
    for (const stage of task.stages) {
      rows.push(h(
        "tr",
        { class: `outcome-${stage.outcome}` },
        h("td", {}, task.taskId || "–"),
        h("td", {}, stage.stage),
        h("td", {}, String(stage.attempt)),
        h("td", {}, stage.outcome),
        h("td", {}, duration(stage.durationS)),
      ));
    }
  }
  const table = rows.length
    ? h("table", { class: "timeline" },
        h("caption", { class: "visually-hidden" }, `Stages of run ${run.runId}`),
        h("thead", {}, h("tr", {}, ["Task", "Stage", "Attempt", "Outcome", "Duration"]
          .map((label) => h("th", { scope: "col" }, label)))),
        h("tbody", {}, rows))
    : h("p", {}, "No stage recorded yet.");
  const error = run.error ? h("p", { class: "error" }, `${run.error.code}: ${run.error.message}`) : null;
  return h("details", { open, "data-run": run.runId }, h("summary", {}, head), error, table);
}

const STATE_TEXT = {
  done: "done", next: "next", ready: "ready", blocked: "blocked",
  skipped: "skipped", cancelled: "cancelled", open: "open",
};

function taskItem(task) {
  const notes = [];
  if (task.reason) notes.push(task.reason);
  if (task.dependencies.length) notes.push(`depends on ${task.dependencies.join(", ")}`);
  if (task.files.length) notes.push(`files: ${task.files.join(", ")}`);
  return h(
    "li",
    { class: `task task-${task.state} type-${task.type}`, "data-task": task.id },
    h("span", { class: `state state-${task.state}` }, STATE_TEXT[task.state] || task.state),
    " ",
    h("strong", {}, task.id),
    ` ${task.title}`,
    notes.length ? h("div", { class: "task-notes" }, notes.join(" · ")) : null,
  );
}

function taskTree(tree) {
  const byGroup = new Map();
  for (const task of tree.tasks) {
    const key = task.group || "";
    if (!byGroup.has(key)) byGroup.set(key, []);
    byGroup.get(key).push(task);
  }
  const titles = new Map(tree.groups.map((g) => [g.id, g.title]));
  const items = [];
  for (const [group, tasks] of byGroup) {
    const done = tasks.filter((t) => t.type === "atomic" && t.state === "done").length;
    const atomic = tasks.filter((t) => t.type === "atomic").length;
    const label = group ? `${group} ${titles.get(group) || ""}` : "Tasks";
    items.push(h(
      "li",
      { class: "group" },
      h("span", { class: "group-title" }, `${label} (${done}/${atomic} done)`),
      h("ul", {}, tasks.map(taskItem)),
    ));
  }
  const warnings = tree.warnings.length
    ? h("details", { class: "warnings" }, h("summary", {}, `${tree.warnings.length} warning(s)`),
        h("ul", {}, tree.warnings.map((w) => h("li", {}, `line ${w.line}: ${w.message}`))))
    : null;
  return [h("ul", { class: "tree" }, items), warnings];
}
