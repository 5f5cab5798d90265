// The live log: up to MAX_KEPT lines kept, MAX_SHOWN in the page, appended once per frame.

import { h } from "./dom.js";

const MAX_KEPT = 5000;
const MAX_SHOWN = 1000;

export class LogView {
  constructor({ box, filter, follow, count }) {
    this.box = box;
    this.filterInput = filter;
    this.followButton = follow;
    this.count = count;
    this.lines = [];
    this.pending = [];
    this.filter = "";
    this.following = true;
    this.scheduled = false;
    this.onFilter = () => {
      this.filter = this.filterInput.value.trim().toLowerCase();
      this.redraw();
    };
    this.onFollow = () => this.setFollowing(!this.following);
    this.filterInput.addEventListener("input", this.onFilter);
    this.followButton.addEventListener("click", this.onFollow);
    this.setFollowing(true);
  }

  setFollowing(on) {
    this.following = on;
    this.followButton.setAttribute("aria-pressed", String(on));
    if (on) this.box.scrollTop = this.box.scrollHeight;
  }

  /** Add the lines of an execution-log frame (or the state's recent logs). */
  add(frame) {
    const stamp = frame.timestamp ? new Date(frame.timestamp).toLocaleTimeString() : "";
    for (const text of String(frame.message ?? "").split("\n")) {
      const line = {
        level: frame.level || "info",
        text: `${stamp} ${frame.taskId ? `[${frame.taskId}] ` : ""}${text}`,
      };
      line.lower = line.text.toLowerCase();
      this.lines.push(line);
      this.pending.push(line);
    }
    if (this.lines.length > MAX_KEPT) this.lines.splice(0, this.lines.length - MAX_KEPT);
    if (this.pending.length > MAX_SHOWN) this.pending.splice(0, this.pending.length - MAX_SHOWN);
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.flush());
  }

  element(line) {
    return h("div", { class: `log-line log-${line.level}` }, line.text);
  }

  matches(line) {
    return !this.filter || line.lower.includes(this.filter);
  }

  flush() {
    this.scheduled = false;
    const fragment = document.createDocumentFragment();
    for (const line of this.pending) if (this.matches(line)) fragment.append(this.element(line));
    this.pending = [];
    this.box.append(fragment);
    this.trim();
  }

  redraw() {
    this.pending = [];
    const shown = this.lines.filter((line) => this.matches(line)).slice(-MAX_SHOWN);
    this.box.replaceChildren(...shown.map((line) => this.element(line)));
    this.trim();
  }

  trim() {
    const extra = this.box.childElementCount - MAX_SHOWN;
    for (let i = 0; i < extra; i += 1) this.box.firstElementChild.remove();
    this.count.textContent = `${this.box.childElementCount} of ${this.lines.length} lines shown`;
    if (this.following) this.box.scrollTop = this.box.scrollHeight;
  }

  destroy() {
    this.filterInput.removeEventListener("input", this.onFilter);
    this.followButton.removeEventListener("click", this.onFollow);
  }
}
