// A job's page: its state and actions, operator graph, latency chart (from the job's
// series, one sample a second), operators with the version each runs, its history and the
// version buttons, the extra panels, and the tail of its logs.
"use strict";

const view = { id: null, samples: [], after: 0, logSince: 0, rows: {}, panels: {} };
const KEEP_SAMPLES = 600;
const KEEP_LOG_LINES = 500;

cameo.openJob = (id) => {
  view.id = id;
  view.samples = [];
  view.after = 0;
  view.logSince = 0;
  view.rows = {};
  view.panels = {};
  $("logs").textContent = "";
  $("job-message").textContent = "";
  $("operators").tBodies[0].replaceChildren();
  $("panels").replaceChildren();
  $("chart-of").replaceChildren(new Option("the job, end to end", ""));
  cameo.drawChart($("chart"), []);
};

// Runs an action that changes something, says how it went, and refreshes.
async function act(label, method, path) {
  $("job-message").textContent = label + "…";
  try {
    await cameo.api(method, path);
    $("job-message").textContent = label + ": done";
  } catch (err) {
    $("job-message").textContent = label + ": " + err.message;
  }
  await cameo.refreshSoon();
}

for (const button of document.querySelectorAll("[data-action]")) {
  button.onclick = () => {
    const action = button.dataset.action;
    act(action, "POST", "/v1/jobs/" + view.id + "/" + action);
  };
}

cameo.refreshJob = async () => {
  const id = view.id;
  const job = await cameo.json("GET", "/v1/jobs/" + id);
  if (id !== view.id) return;
  $("job-title").textContent = "Job " + job.id + " (" + job.name + "): " + job.state;
  $("job-error").textContent = job.error || "";
  for (const button of document.querySelectorAll("[data-action]")) {
    const allowed = { pause: ["running"], resume: ["paused"], cancel: ["running", "paused"] };
    button.disabled = !allowed[button.dataset.action].includes(job.state);
  }
  cameo.drawGraph($("graph"), job.graph, job.operators);
  await refreshSeries(job);
  refreshOperators(job);
  await refreshPanels(job);
  await refreshLogs(id);
};

async function refreshSeries(job) {
  const series = await cameo.json("GET", "/v1/jobs/" + job.id + "/series?after=" + view.after);
  for (const s of series.samples) {
    view.samples.push(s);
    view.after = s.t_ms;
  }
  if (view.samples.length > KEEP_SAMPLES) view.samples.splice(0, view.samples.length - KEEP_SAMPLES);
  const select = $("chart-of");
  for (const name of Object.keys(job.operators || {})) {
    if (![...select.options].some((o) => o.value === name)) {
      select.appendChild(new Option("operator " + name +
        ": end to end (ingest to the end of its call), deadline misses downstream", name));
      select.appendChild(new Option("operator " + name +
        ": its calls' time, deadline misses downstream", CALL_TIME + name));
    }
  }
  drawSelected();
}

// The chart's choice for an operator's call time is its name after this prefix; the name
// alone is the operator's end-to-end latency.
const CALL_TIME = "call:";

function drawSelected() {
  const chosen = $("chart-of").value;
  const callTime = chosen.startsWith(CALL_TIME);
  const of = callTime ? chosen.slice(CALL_TIME.length) : chosen;
  const points = view.samples.map((s) => {
    const operator = (s.operators || {})[of] || {};
    const latency = of === "" ? s.latency_ms : callTime ? operator.call_ms : operator.latency_ms;
    return { p50: latency ? latency.p50 : null, p99: latency ? latency.p99 : null,
      misses: of === "" ? s.deadline_misses : (operator.deadline_misses || 0) };
  });
  cameo.drawChart($("chart"), points);
}
$("chart-of").onchange = drawSelected;

function lastSample(name) {
  for (let i = view.samples.length - 1; i >= 0; i--) {
    const o = (view.samples[i].operators || {})[name];
    if (o && o.calls > 0) return o;
  }
  return null;
}

function historyText(status) {
  const history = status.history || [];
  if (history.length === 0) return "as submitted";
  return history.map((h) => h.module + " " + h.change +
    (h.checkpoint !== null && h.checkpoint !== undefined ? " (checkpoint " + h.checkpoint + ")" : ""))
    .join(" → ");
}

function operatorRow(job, name) {
  if (view.rows[name]) return view.rows[name];
  const tr = $("operators").tBodies[0].insertRow();
  tr.dataset.operator = name;
  const cells = {};
  for (const key of ["name", "runs", "instances", "calls", "call", "cost", "fuel", "errors",
    "missed", "restarts", "history"]) {
    cells[key] = cameo.cell(tr, "");
  }
  const change = cameo.cell(tr, "");
  change.dataset.role = "deploy";
  const select = document.createElement("select");
  select.className = "upgrade-to";
  const upgrade = cameo.button("Upgrade", () => {
    if (!select.value) return;
    act("upgrade " + name + " to " + select.value, "POST", "/v1/jobs/" + view.id +
      "/operators/" + encodeURIComponent(name) + "/upgrade?module=" +
      encodeURIComponent(select.value));
  });
  upgrade.dataset.upgrade = name;
  const rollback = cameo.button("Rollback", () => act("roll back " + name, "POST",
    "/v1/jobs/" + view.id + "/operators/" + encodeURIComponent(name) + "/rollback"));
  rollback.dataset.rollback = name;
  change.append(select, upgrade, rollback);
  cameo.applyRole(tr);
  change.hidden = !cameo.can("deploy");
  const row = { tr, cells, select, upgrade, rollback, options: "" };
  view.rows[name] = row;
  return row;
}

function refreshOperators(job) {
  const summary = job.summary || {};
  const stats = summary.operators || {};
  const instances = job.instances || [];
  for (const [name, status] of Object.entries(job.operators || {})) {
    const row = operatorRow(job, name);
    const o = stats[job.id + "/" + name] || {};
    const live = lastSample(name);
    const call = live && live.call_ms ? live.call_ms : o.call_ms;
    const c = row.cells;
    c.name.textContent = name;
    c.runs.textContent = status.module + (status.pending ? " (switching to " + status.pending + ")" : "");
    const mine = instances.filter((i) => i.operator === name);
    c.instances.textContent = mine.length ?
      mine.length + " (mailbox " + mine.reduce((n, i) => n + i.mailbox_events, 0) + ")" : "";
    c.calls.textContent = o.calls === undefined ? "" : o.calls;
    c.call.textContent = call ? cameo.fmt(call.p50) + " / " + cameo.fmt(call.p99) : "";
    c.cost.textContent = o.cost_us === undefined ? "" : o.cost_us.toFixed(2);
    const fuel = live && live.fuel_per_event !== null ? live.fuel_per_event :
      (o.events ? o.fuel / o.events : null);
    c.fuel.textContent = fuel === null ? "" : fuel.toFixed(0);
    c.errors.textContent = o.errors === undefined ? "" : o.errors;
    c.missed.textContent = o.deadline_misses === undefined ? "" : o.deadline_misses;
    c.restarts.textContent = o.restarts === undefined ? "" : o.restarts;
    c.history.textContent = historyText(status);
    // The versions it could switch to: the other versions of its module.
    const base = status.module.split("@")[0];
    const module = cameo.modules.find((m) => m.name === base);
    const versions = module ? module.versions.map((v) => base + "@" + v.version)
      .filter((v) => v !== status.module) : [];
    if (versions.join() !== row.options) {
      row.options = versions.join();
      const chosen = row.select.value;
      row.select.replaceChildren(...versions.map((v) => new Option(v, v)));
      if (versions.includes(chosen)) row.select.value = chosen;
    }
    const running = job.state === "running";
    row.upgrade.disabled = !running || versions.length === 0 || Boolean(status.pending);
    row.rollback.disabled = !running || (status.history || []).length < 2 || Boolean(status.pending);
  }
}

async function refreshPanels(job) {
  for (const panel of cameo.panels) {
    if (panel.role && !cameo.can(panel.role)) continue;
    let body = view.panels[panel.id];
    if (!body) {
      const section = document.createElement("section");
      section.className = "panel";
      section.dataset.panel = panel.id;
      const title = document.createElement("h3");
      title.textContent = panel.title;
      body = document.createElement("div");
      section.append(title, body);
      $("panels").appendChild(section);
      view.panels[panel.id] = body;
    }
    try {
      await panel.update(job, body);
    } catch (err) {
      body.textContent = err.message;
    }
  }
}

async function refreshLogs(id) {
  const text = await cameo.api("GET", "/v1/jobs/" + id + "/logs?since=" + view.logSince);
  if (id !== view.id) return;
  const pre = $("logs");
  let added = "";
  for (const line of text.split("\n").filter((l) => l)) {
    const l = JSON.parse(line);
    view.logSince = l.seq;
    added += l.operator + "#" + l.instance + " " + l.level + " " + l.text + "\n";
  }
  if (!added) return;
  const lines = (pre.textContent + added).split("\n");
  pre.textContent = lines.slice(Math.max(0, lines.length - 1 - KEEP_LOG_LINES)).join("\n");
  pre.scrollTop = pre.scrollHeight;
}
