// The cameo console: sign in with a token, see the tenant's modules and jobs, follow one
// job's latency, operators and logs. Everything comes from the HTTP API with the token.
"use strict";

const state = { token: sessionStorage.getItem("cameo-token"), role: null, job: null,
  history: [], lastMisses: null, logSince: 0, timer: null };
const $ = (id) => document.getElementById(id);

async function api(method, path) {
  const response = await fetch(path, { method,
    headers: { Authorization: "Bearer " + state.token } });
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try { message = JSON.parse(text).error; } catch (_) {}
    throw new Error(message + " (HTTP " + response.status + ")");
  }
  return text;
}
const json = async (method, path) => JSON.parse(await api(method, path));

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

async function signIn(token) {
  state.token = token;
  const who = await json("GET", "/v1/whoami");
  sessionStorage.setItem("cameo-token", token);
  state.role = who.role;
  $("who").textContent = who.tenant + " (" + who.role + ")";
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  // A read token sees everything and changes nothing: no action buttons.
  for (const el of document.querySelectorAll(".operate-only")) {
    el.hidden = who.role === "read";
  }
  await refresh();
  state.timer = setInterval(refresh, 1000);
}

async function refresh() {
  try {
    const modules = await json("GET", "/v1/modules");
    const body = $("modules").tBodies[0];
    body.replaceChildren();
    for (const m of modules) {
      const row = body.insertRow();
      cell(row, m.name);
      cell(row, m.versions.map((v) => "@" + v.version).join(" "));
      const last = m.versions[m.versions.length - 1];
      cell(row, last ? last.exports.join(", ") : "");
    }
    const jobs = await json("GET", "/v1/jobs");
    const jobBody = $("jobs").tBodies[0];
    jobBody.replaceChildren();
    for (const j of jobs) {
      const row = jobBody.insertRow();
      row.dataset.job = j.id;
      cell(row, j.id);
      cell(row, j.name);
      cell(row, j.state);
      cell(row, Object.values(j.modules).join(", "));
      const open = document.createElement("button");
      open.className = "link";
      open.textContent = "open";
      open.onclick = () => openJob(j.id);
      cell(row, "").appendChild(open);
    }
    if (state.job) await refreshJob();
  } catch (err) {
    $("job-error").textContent = err.message;
  }
}

function openJob(id) {
  state.job = id;
  state.history = [];
  state.lastMisses = null;
  state.logSince = 0;
  $("logs").textContent = "";
  $("job").hidden = false;
  refreshJob();
}

async function refreshJob() {
  const job = await json("GET", "/v1/jobs/" + state.job);
  $("job-title").textContent = "Job " + job.id + " (" + job.name + "): " + job.state;
  $("job-error").textContent = job.error || "";
  const s = job.summary || {};
  const latency = s.latency_ms || { p50: 0, p99: 0 };
  const misses = s.deadline_misses || 0;
  const fresh = state.lastMisses === null ? 0 : Math.max(0, misses - state.lastMisses);
  state.lastMisses = misses;
  state.history.push({ p50: latency.p50, p99: latency.p99, misses: fresh });
  if (state.history.length > 120) state.history.shift();
  drawChart();
  const body = $("operators").tBodies[0];
  body.replaceChildren();
  for (const [name, o] of Object.entries(s.operators || {})) {
    const row = body.insertRow();
    cell(row, name.replace(job.id + "/", ""));
    cell(row, o.calls);
    cell(row, o.cost_us.toFixed(2));
    cell(row, o.fuel_per_call);
    cell(row, o.errors);
  }
  const logs = await api("GET", "/v1/jobs/" + state.job + "/logs?since=" + state.logSince);
  for (const line of logs.split("\n").filter((l) => l)) {
    const l = JSON.parse(line);
    state.logSince = l.seq;
    $("logs").textContent += l.operator + "#" + l.instance + " " + l.level + " " + l.text + "\n";
  }
}

function drawChart() {
  const svg = $("chart");
  const h = state.history;
  const top = Math.max(1, ...h.map((p) => p.p99), ...h.map((p) => p.misses));
  const x = (i) => (h.length < 2 ? 0 : (i * 600) / (h.length - 1));
  const y = (v) => 175 - (v / top) * 165;
  const line = (cls, key) => {
    const points = h.map((p, i) => x(i).toFixed(1) + "," + y(p[key]).toFixed(1)).join(" ");
    return '<polyline class="' + cls + '" points="' + points + '"></polyline>';
  };
  svg.innerHTML = line("p50", "p50") + line("p99", "p99") + line("miss", "misses") +
    '<text x="4" y="12" font-size="10">' + top.toFixed(2) + "</text>";
  svg.dataset.points = String(h.length);
}

for (const button of document.querySelectorAll("[data-action]")) {
  button.onclick = async () => {
    try {
      await api("POST", "/v1/jobs/" + state.job + "/" + button.dataset.action);
      await refresh();
    } catch (err) {
      $("job-error").textContent = err.message;
    }
  };
}

$("signin-form").onsubmit = async (event) => {
  event.preventDefault();
  try {
    await signIn($("token").value.trim());
  } catch (err) {
    $("signin-error").textContent = err.message;
  }
};
$("signout").onclick = () => {
  sessionStorage.removeItem("cameo-token");
  location.reload();
};
if (state.token) signIn(state.token).catch(() => sessionStorage.removeItem("cameo-token"));
