// The dashboard: routes (#/ and #/customers/<id>), the live feed, dialogs, the token prompt.

import { api, onUnauthorized, setToken } from "./api.js";
import { CustomerView } from "./customer.js";
import { LiveFeed } from "./live.js";
import { Customers, OverviewView, loadCustomers } from "./overview.js";

const $ = (selector) => document.querySelector(selector);
const customers = new Customers();
const feeds = new Map();
let overview = null;
let customerView = null;
let reloadTimer = null;

// -- connection indicator -------------------------------------------------------------------

function feedState(feed, state) {
  if (state === "closed") feeds.delete(feed);
  else feeds.set(feed, state);
  const states = [...feeds.values()];
  let text = "live";
  if (states.includes("reconnecting")) text = "reconnecting…";
  else if (states.length === 0 || states.includes("connecting")) text = "connecting…";
  const el = $("#connection");
  if (el.textContent !== text) el.textContent = text;
  el.dataset.state = text === "live" ? "live" : "down";
}

// -- dialogs ------------------------------------------------------------------------------

let tokenWaiters = null;

function askToken(message) {
  if (tokenWaiters) return new Promise((resolve) => tokenWaiters.push(resolve));
  tokenWaiters = [];
  const dialog = $("#token-dialog");
  $("#token-message").textContent = message || "This service needs an API token.";
  $("#token-input").value = "";
  dialog.showModal();
  return new Promise((resolve) => {
    tokenWaiters.push(resolve);
    dialog.addEventListener(
      "close",
      () => {
        const value = dialog.returnValue === "save" ? $("#token-input").value.trim() : "";
        if (value) setToken(value);
        const waiters = tokenWaiters;
        tokenWaiters = null;
        for (const resolve of waiters) resolve(value || null);
      },
      { once: true },
    );
  });
}

function confirmDialog(text) {
  const dialog = $("#confirm-dialog");
  $("#confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
  });
}

function editCustomer(customer) {
  const form = $("#customer-form");
  const dialog = $("#customer-dialog");
  form.reset();
  $("#customer-form-error").textContent = "";
  $("#customer-dialog-title").textContent = customer ? `Edit ${customer.customerId}` : "Register a customer";
  const id = $("#f-customer-id");
  id.readOnly = Boolean(customer);
  if (customer) {
    id.value = customer.customerId;
    $("#f-repo-url").value = customer.repoUrl;
    $("#f-base-branch").value = customer.baseBranch;
    $("#f-tasks-file").value = customer.tasksFile;
    $("#f-tool").value = customer.tool;
    $("#f-push").checked = customer.push;
    $("#f-max-attempts").value = customer.maxAttempts ?? "";
  }
  dialog.showModal();
}

async function saveCustomer(event) {
  event.preventDefault();
  const id = $("#f-customer-id").value.trim();
  const body = {
    repoUrl: $("#f-repo-url").value.trim(),
    baseBranch: $("#f-base-branch").value.trim() || "main",
    tasksFile: $("#f-tasks-file").value.trim() || "docs/DevTeam/tasks_list.md",
    tool: $("#f-tool").value,
    push: $("#f-push").checked,
  };
  const attempts = $("#f-max-attempts").value.trim();
  if (attempts) body.maxAttempts = Number(attempts);
  const error = $("#customer-form-error");
  error.textContent = "saving…";
  try {
    await api("PUT", `/customers/${encodeURIComponent(id)}`, body);
    error.textContent = "";
    $("#customer-dialog").close();
    await loadCustomers(customers);
    const target = `#/customers/${encodeURIComponent(id)}`;
    if (window.location.hash === target) route();
    else window.location.hash = target;
  } catch (e) {
    error.textContent = e.describe ? e.describe() : String(e);
  }
}

// -- routes -------------------------------------------------------------------------------

function route() {
  const match = window.location.hash.match(/^#\/customers\/([^/]+)$/);
  if (customerView) {
    customerView.destroy();
    customerView = null;
  }
  $("#overview-view").hidden = Boolean(match);
  $("#customer-view").hidden = !match;
  if (match) {
    const id = decodeURIComponent(match[1]);
    document.title = `${id} · devteam-runner`;
    customerView = new CustomerView($("#customer-view"), id, { confirm: confirmDialog, editCustomer, feedState });
  } else {
    document.title = "devteam-runner";
  }
  $("#main").focus({ preventScroll: true });
}

function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => loadCustomers(customers).catch(showOverviewError), 200);
}

function showOverviewError(error) {
  $("#overview-message").textContent = error.describe ? error.describe() : String(error);
}

async function main() {
  onUnauthorized(askToken);
  $(".skip-link").addEventListener("click", (event) => {
    event.preventDefault(); // "#main" would change the route
    $("#main").focus();
  });
  $("#customer-form").addEventListener("submit", saveCustomer);
  $("#customer-cancel").addEventListener("click", () => $("#customer-dialog").close());
  $("#new-customer").addEventListener("click", () => editCustomer(null));
  $("#token-button").addEventListener("click", async () => {
    if (await askToken("Set the API token for this tab (kept until the tab closes).")) {
      reloadSoon();
      route();
    }
  });
  overview = new OverviewView($("#overview-view"), customers);
  window.addEventListener("hashchange", route);
  route();
  try {
    await loadCustomers(customers);
  } catch (error) {
    showOverviewError(error);
  }
  new LiveFeed({
    onFrame: (frame) => {
      if (frame.type === "execution-update" && !customers.update(frame)) reloadSoon();
    },
    onOpen: () => reloadSoon(), // whatever changed while disconnected: a fresh snapshot
    onState: feedState,
  });
  document.body.dataset.ready = "true";
}

main();
