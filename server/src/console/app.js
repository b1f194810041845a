// The cameo console's shell: signing in with a token, the tenant's modules and jobs, the
// refresh loop, and the panels of a job's page. Everything comes from the HTTP API with the
// token, so the page shows only what the token may see, and the server refuses what its
// role may not do whatever the page shows.
//
// A job's page is made of panels (job.js registers the built-in ones). Another panel is one
// more script that calls
//   cameo.addPanel({ id, title, role, update: async (job, body) => { ... } })
// where `role` (optional) is the least role that sees the panel, `job` is the job's status
// (GET /v1/jobs/{id}) and `body` the panel's element, filled as the panel likes; `update`
// runs on every refresh while the job is open.
"use strict";

const cameo = {
  token: sessionStorage.getItem("cameo-token"),
  tenant: null,
  role: null,
  jobId: null,
  panels: [],
  timer: null,
  ticks: 0,
  modules: [],
  refreshing: false,
};
const $ = (id) => document.getElementById(id);

// Roles in the order of what they may do; a role may do all a lower one may.
cameo.ROLES = ["read", "operate", "deploy", "admin"];
cameo.can = (role) => cameo.ROLES.indexOf(cameo.role) >= cameo.ROLES.indexOf(role);

cameo.api = async (method, path) => {
  const response = await fetch(path, { method,
    headers: { Authorization: "Bearer " + cameo.token } });
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try { message = JSON.parse(text).error; } catch (_) {}
    throw new Error(message + " (HTTP " + response.status + ")");
  }
  return text;
};
cameo.json = async (method, path) => JSON.parse(await cameo.api(method, path));

cameo.cell = (row, text) => {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
};

cameo.button = (text, onclick) => {
  const b = document.createElement("button");
  b.textContent = text;
  b.onclick = onclick;
  return b;
};

cameo.addPanel = (panel) => {
  cameo.panels.push(panel);
};

// Hides what the role may not use: elements marked data-role="operate" need at least that.
cameo.applyRole = (root) => {
  for (const el of root.querySelectorAll("[data-role]")) {
    el.hidden = !cameo.can(el.dataset.role);
  }
};

async function signIn(token) {
  cameo.token = token;
  const who = await cameo.json("GET", "/v1/whoami");
  sessionStorage.setItem("cameo-token", token);
  cameo.tenant = who.tenant;
  cameo.role = who.role;
  $("who").textContent = who.tenant + " (" + who.role + ")";
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  cameo.applyRole(document);
  await refresh();
  cameo.timer = setInterval(refresh, 1000);
}

async function refreshModules() {
  cameo.modules = await cameo.json("GET", "/v1/modules");
  const body = $("modules").tBodies[0];
  body.replaceChildren();
  for (const m of cameo.modules) {
    const row = body.insertRow();
    row.dataset.module = m.name;
    cameo.cell(row, m.name);
    cameo.cell(row, m.versions.map((v) => "@" + v.version).join(" "));
    const last = m.versions[m.versions.length - 1];
    cameo.cell(row, last ? last.exports.join(", ") : "");
  }
}

async function refreshJobs() {
  const jobs = await cameo.json("GET", "/v1/jobs");
  const body = $("jobs").tBodies[0];
  body.replaceChildren();
  for (const j of jobs) {
    const row = body.insertRow();
    row.dataset.job = j.id;
    if (j.id === cameo.jobId) row.className = "selected";
    cameo.cell(row, j.id);
    cameo.cell(row, j.name);
    cameo.cell(row, j.state).className = "state-" + j.state;
    cameo.cell(row, Object.values(j.modules).join(", "));
    const open = cameo.button("open", () => openJob(j.id));
    open.className = "link";
    open.dataset.open = j.id;
    cameo.cell(row, "").appendChild(open);
  }
}

async function refresh() {
  // One refresh at a time: two at once would read the same new samples and log lines twice.
  if (cameo.refreshing) return;
  cameo.refreshing = true;
  try {
    // Modules change rarely: every fifth refresh, and at once after a change.
    if (cameo.ticks % 5 === 0) await refreshModules();
    cameo.ticks += 1;
    await refreshJobs();
    $("app-error").textContent = "";
    if (cameo.jobId) await cameo.refreshJob();
  } catch (err) {
    $("app-error").textContent = err.message;
  } finally {
    cameo.refreshing = false;
  }
}
cameo.refresh = refresh;
cameo.refreshSoon = () => { cameo.ticks = 0; return refresh(); };

function openJob(id) {
  cameo.jobId = id;
  cameo.openJob(id);
  $("job").hidden = false;
  refresh();
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
window.addEventListener("load", () => {
  if (cameo.token) signIn(cameo.token).catch(() => sessionStorage.removeItem("cameo-token"));
});
