// A line chart in SVG, drawn from numbers only: p50 and p99 latency (ms, left scale) and
// deadline misses per interval (bars, right scale) over the samples given, oldest left.
"use strict";

cameo.drawChart = (svg, points) => {
  const W = 640, H = 200, top = 14, bottom = 186;
  const ns = "http://www.w3.org/2000/svg";
  const el = (name, attrs, text) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const values = points.flatMap((p) => [p.p50, p.p99]).filter((v) => v !== null);
  const maxMs = Math.max(0.001, ...values);
  const mostMissed = Math.max(0, ...points.map((p) => p.misses));
  const maxMiss = Math.max(1, mostMissed);
  const n = points.length;
  const x = (i) => (n < 2 ? W / 2 : 30 + (i * (W - 60)) / (n - 1));
  const y = (v, max) => bottom - (v / max) * (bottom - top);
  const parts = [];
  for (const frac of [0.25, 0.5, 0.75, 1]) {
    parts.push(el("line", { class: "grid", x1: 30, x2: W - 30, y1: y(frac, 1), y2: y(frac, 1) }));
  }
  const barWidth = Math.max(1, (W - 60) / Math.max(n, 1) / 2);
  points.forEach((p, i) => {
    if (p.misses > 0) {
      parts.push(el("rect", { class: "miss", x: x(i) - barWidth / 2, y: y(p.misses, maxMiss),
        width: barWidth, height: bottom - y(p.misses, maxMiss) }));
    }
  });
  for (const key of ["p50", "p99"]) {
    // A gap where an interval had no latency to show (nothing came out).
    let run = [];
    const flush = () => {
      if (run.length > 0) {
        parts.push(el("polyline", { class: key, points: run.join(" ") }));
      }
      run = [];
    };
    points.forEach((p, i) => {
      if (p[key] === null) { flush(); return; }
      run.push(x(i).toFixed(1) + "," + y(p[key], maxMs).toFixed(1));
      // A dot as well: a second alone between gaps has no line to show.
      parts.push(el("circle", { class: key, cx: x(i).toFixed(1), cy: y(p[key], maxMs).toFixed(1),
        r: 2 }));
    });
    flush();
  }
  parts.push(el("text", { x: 2, y: 11, class: "axis" }, fmt(maxMs) + " ms"));
  parts.push(el("text", { x: 2, y: bottom + 12, class: "axis" }, "0"));
  parts.push(el("text", { x: W - 2, y: 11, class: "axis miss-axis", "text-anchor": "end" },
    mostMissed + " missed/s (most)"));
  if (n === 0) {
    parts.push(el("text", { x: W / 2, y: H / 2, class: "axis", "text-anchor": "middle" },
      "waiting for the first samples (one a second while the job runs)"));
  }
  svg.replaceChildren(...parts);
  svg.dataset.points = String(n);
};

function fmt(ms) {
  return ms >= 10 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(1) : ms.toFixed(3);
}
cameo.fmt = fmt;
