// The shadow panel: per operator of the open job, the report of the shadow run beside it
// (outputs matched and differing, the first differing pairs, both versions' cost per event
// and call times), with Start (a module version), Promote and Stop for deploy tokens.
"use strict";

(() => {
  const base = (job, name) =>
    "/v1/jobs/" + job.id + "/operators/" + encodeURIComponent(name) + "/shadow";

  async function report(job, name) {
    try {
      return await cameo.json("GET", base(job, name));
    } catch (err) {
      // 404: no shadow beside this operator.
      if (/HTTP 404/.test(err.message)) return null;
      throw err;
    }
  }

  // The version picked per operator, kept across redraws.
  const chosen = {};

  async function act(label, path) {
    const message = document.querySelector("[data-panel=shadow] .shadow-message");
    message.textContent = label + "…";
    try {
      await cameo.api("POST", path);
      message.textContent = label + ": done";
    } catch (err) {
      message.textContent = label + ": " + err.message;
    }
    await cameo.refreshSoon();
  }

  const cost = (c) => c.fuel_per_event.toFixed(0) + " fuel/event, " +
    c.us_per_event.toFixed(1) + " µs/event, call p50 " + c.call_us.p50 + " µs, p99 " +
    c.call_us.p99 + " µs";

  function table(headings, rows) {
    const t = document.createElement("table");
    const head = t.createTHead().insertRow();
    for (const h of headings) {
      const th = document.createElement("th");
      th.textContent = h;
      head.appendChild(th);
    }
    const tbody = t.createTBody();
    for (const r of rows) {
      const row = tbody.insertRow();
      for (const text of r) cameo.cell(row, text);
    }
    return t;
  }

  const shown = (output) => output ? output.value + " @" + output.event_time : "(none)";

  function renderReport(job, name, r, into) {
    const state = r.stopped ? "stopped: " + r.stopped
      : r.instances_started + " of " + r.instances + " instances running";
    const summary = document.createElement("p");
    summary.className = "shadow-summary";
    summary.dataset.matched = r.matched;
    summary.dataset.differing = r.differing;
    summary.textContent = name + ": " + r.shadow + " beside " + r.primary + " (" + state +
      "): " + r.matched + " matched, " + r.differing + " differing, " + r.failures +
      " failed calls";
    into.appendChild(summary);
    into.appendChild(table(["version", "cost"], [
      ["running " + r.primary, cost(r.cost.primary)],
      ["shadow " + r.shadow, cost(r.cost.shadow)],
    ]));
    if (r.differences.length > 0) {
      into.appendChild(table(["key", "running", "shadow"], r.differences.map((d) =>
        [d.key === null ? "(none)" : d.key, shown(d.primary), shown(d.shadow)])));
    }
    if (r.first_failures.length > 0) {
      const failures = document.createElement("p");
      failures.textContent = "first failures: " + r.first_failures.join("; ");
      into.appendChild(failures);
    }
    if (!r.stopped) {
      const actions = document.createElement("p");
      actions.dataset.role = "deploy";
      const promote = cameo.button("Promote", () => act("promote the shadow of " + name,
        base(job, name) + "/promote"));
      promote.dataset.promoteShadow = name;
      const stop = cameo.button("Stop", () => act("stop the shadow of " + name,
        base(job, name) + "/stop"));
      stop.dataset.stopShadow = name;
      actions.append(promote, stop);
      into.appendChild(actions);
    }
  }

  function renderStart(job, name, into) {
    const line = document.createElement("p");
    line.dataset.role = "deploy";
    line.append(name + ": no shadow. ");
    const select = document.createElement("select");
    for (const m of cameo.modules) {
      for (const v of m.versions) {
        const option = document.createElement("option");
        option.value = option.textContent = m.name + "@" + v.version;
        select.appendChild(option);
      }
    }
    if (chosen[name]) select.value = chosen[name];
    select.onchange = () => { chosen[name] = select.value; };
    const start = cameo.button("Start shadow", () => act("start a shadow of " + name,
      base(job, name) + "?module=" + encodeURIComponent(select.value)));
    start.dataset.shadow = name;
    start.disabled = job.state !== "running" || select.options.length === 0;
    line.append(select, start);
    into.appendChild(line);
  }

  cameo.addPanel({
    id: "shadow",
    title: "Shadow runs",
    update: async (job, body) => {
      // A message of the last action survives the redraw.
      const message = body.querySelector(".shadow-message") || document.createElement("p");
      message.className = "shadow-message";
      const parts = [];
      for (const name of Object.keys(job.operators || {})) {
        const part = document.createElement("div");
        part.dataset.shadowOperator = name;
        const r = await report(job, name);
        if (r) renderReport(job, name, r, part); else renderStart(job, name, part);
        parts.push(part);
      }
      // A select in use is not redrawn under the user's hand.
      const active = document.activeElement;
      const choosing = active && active.tagName === "SELECT" && body.contains(active);
      if (!choosing) body.replaceChildren(...parts, message);
      cameo.applyRole(body);
    },
  });
})();
