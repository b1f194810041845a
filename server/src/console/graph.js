// The operator graph in SVG: sources, operators and sinks in columns by their distance from
// the sources, an arrow for each input, each operator labelled with the version it runs.
"use strict";

cameo.drawGraph = (svg, graph, operators) => {
  const ns = "http://www.w3.org/2000/svg";
  const el = (name, attrs, text) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  if (!graph || !graph.nodes) {
    svg.replaceChildren(el("text", { x: 4, y: 14 }, "the job's spec no longer parses"));
    return;
  }
  // Column: 0 for sources, else one past the furthest input.
  const inputs = {};
  for (const e of graph.edges) (inputs[e.to] = inputs[e.to] || []).push(e.from);
  const column = {};
  const columnOf = (name, seen) => {
    if (column[name] !== undefined) return column[name];
    if (seen.has(name)) return 0;
    seen.add(name);
    const c = (inputs[name] || []).reduce((m, i) => Math.max(m, columnOf(i, seen) + 1), 0);
    column[name] = c;
    return c;
  };
  for (const node of graph.nodes) columnOf(node.name, new Set());
  const rows = {};
  const place = {};
  const BW = 150, BH = 44, GX = 60, GY = 14;
  for (const node of graph.nodes) {
    const c = column[node.name];
    const r = (rows[c] = (rows[c] || 0) + 1) - 1;
    place[node.name] = { x: 10 + c * (BW + GX), y: 10 + r * (BH + GY) };
  }
  const width = 20 + (Math.max(0, ...Object.values(column)) + 1) * (BW + GX) - GX;
  const height = 20 + Math.max(1, ...Object.values(rows)) * (BH + GY) - GY;
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 6, markerHeight: 6, orient: "auto" });
  marker.appendChild(el("path", { d: "M0,0 L10,5 L0,10 z" }));
  const defs = el("defs", {});
  defs.appendChild(marker);
  const parts = [defs];
  for (const e of graph.edges) {
    const a = place[e.from], b = place[e.to];
    if (!a || !b) continue;
    parts.push(el("line", { class: "edge", x1: a.x + BW, y1: a.y + BH / 2, x2: b.x,
      y2: b.y + BH / 2, "marker-end": "url(#arrow)" }));
  }
  for (const node of graph.nodes) {
    const p = place[node.name];
    const g = el("g", { class: "node " + node.kind, "data-node": node.name });
    g.appendChild(el("rect", { x: p.x, y: p.y, width: BW, height: BH, rx: 6 }));
    g.appendChild(el("text", { x: p.x + 8, y: p.y + 18, class: "name" }, node.name));
    let detail = node.type || "";
    if (node.kind === "operator") {
      const status = (operators || {})[node.name] || {};
      detail = (status.module || node.module) + (node.parallelism > 1 ? " ×" + node.parallelism : "");
      if (status.pending) detail += " → " + status.pending;
    }
    g.appendChild(el("text", { x: p.x + 8, y: p.y + 35, class: "detail" }, detail));
    parts.push(g);
  }
  svg.replaceChildren(...parts);
};
