// The page map of the comics-search Space: the js_on_load of a gr.HTML (element, trigger, props,
// server, watch are given). props.value: {ids, x, y, c (colour), o (outlier 0/1), tip, legend, kind}.
// Hover: the page's thumbnail (server.thumb) and its line; click: trigger('map_click', {page_id});
// drag: a box (or, in lasso mode or with Shift, a lasso) selects pages: trigger('map_select', {page_ids}).
// Data is only ever shown through textContent and image data: URIs, never as HTML.
const st = { hover: -1, selected: new Set(), mode: "box", drag: null, thumbs: new Map(), view: null };
const q = (sel) => element.querySelector(sel);
const data = () => (props.value && props.value.ids ? props.value : null);
const R = 4; // point radius, CSS px

function view() {
  const canvas = q("canvas.cmap-canvas");
  const d = data();
  if (!canvas || !d) return null;
  const rect = canvas.getBoundingClientRect();
  const w = Math.max(1, rect.width), h = Math.max(1, rect.height);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < d.ids.length; i++) {
    x0 = Math.min(x0, d.x[i]); x1 = Math.max(x1, d.x[i]);
    y0 = Math.min(y0, d.y[i]); y1 = Math.max(y1, d.y[i]);
  }
  const pad = 16;
  const scale = Math.min((w - 2 * pad) / Math.max(x1 - x0, 1e-9), (h - 2 * pad) / Math.max(y1 - y0, 1e-9));
  const ox = (w - scale * (x1 - x0)) / 2, oy = (h - scale * (y1 - y0)) / 2;
  const px = (i) => ox + scale * (d.x[i] - x0);
  const py = (i) => h - (oy + scale * (d.y[i] - y0)); // y up
  return { canvas, rect, w, h, px, py, d };
}

function draw() {
  const v = view();
  if (!v) return;
  st.view = v;
  const dpr = window.devicePixelRatio || 1;
  v.canvas.width = Math.round(v.w * dpr);
  v.canvas.height = Math.round(v.h * dpr);
  const ctx = v.canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, v.w, v.h);
  const d = v.d, any = st.selected.size > 0;
  for (let i = 0; i < d.ids.length; i++) {
    ctx.globalAlpha = any && !st.selected.has(i) ? 0.25 : 0.9;
    ctx.beginPath();
    ctx.arc(v.px(i), v.py(i), R, 0, 2 * Math.PI);
    ctx.fillStyle = d.c[i];
    ctx.fill();
    if (d.o[i]) { ctx.strokeStyle = "#d00"; ctx.lineWidth = 1.5; ctx.stroke(); }
  }
  ctx.globalAlpha = 1;
  for (const i of st.selected) {
    ctx.beginPath(); ctx.arc(v.px(i), v.py(i), R + 2, 0, 2 * Math.PI);
    ctx.strokeStyle = "#111"; ctx.lineWidth = 1.5; ctx.stroke();
  }
  if (st.hover >= 0 && st.hover < d.ids.length) {
    ctx.beginPath(); ctx.arc(v.px(st.hover), v.py(st.hover), R + 4, 0, 2 * Math.PI);
    ctx.strokeStyle = "#000"; ctx.lineWidth = 2; ctx.stroke();
  }
  const g = st.drag;
  if (g && g.moved) {
    ctx.strokeStyle = "#333"; ctx.setLineDash([4, 3]); ctx.lineWidth = 1;
    ctx.fillStyle = "rgba(80,120,200,0.12)";
    ctx.beginPath();
    if (g.lasso) { g.path.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y))); ctx.closePath(); }
    else ctx.rect(g.x0, g.y0, g.x - g.x0, g.y - g.y0);
    ctx.fill(); ctx.stroke(); ctx.setLineDash([]);
  }
}

function legend() {
  const box = q(".cmap-legend"), d = data();
  if (!box) return;
  box.replaceChildren();
  if (!d) return;
  const head = document.createElement("span");
  head.className = "cmap-legend-head";
  head.textContent = d.colour_by.replace("_", " ") + (d.kind === "continuous" ? " (low to high):" : ":");
  box.appendChild(head);
  for (const [label, colour] of d.legend) {
    const item = document.createElement("span");
    item.className = "cmap-legend-item";
    const dot = document.createElement("i");
    dot.style.background = colour;
    item.appendChild(dot);
    item.appendChild(document.createTextNode(label));
    box.appendChild(item);
  }
  const note = q(".cmap-count");
  if (note) note.textContent = d.shown < d.pages ? `${d.shown} of ${d.pages} pages (a sample)` : `${d.pages} pages`;
}

function local(e) {
  const v = st.view || view();
  const rect = v.canvas.getBoundingClientRect();
  return [e.clientX - rect.left, e.clientY - rect.top];
}

function nearest(x, y) {
  const v = st.view;
  if (!v) return -1;
  let best = -1, dist = (R + 5) * (R + 5);
  for (let i = 0; i < v.d.ids.length; i++) {
    const dx = v.px(i) - x, dy = v.py(i) - y, dd = dx * dx + dy * dy;
    if (dd <= dist) { dist = dd; best = i; }
  }
  return best;
}

function inside(path, x, y) { // ray casting
  let hit = false;
  for (let a = 0, b = path.length - 1; a < path.length; b = a++) {
    const [xa, ya] = path[a], [xb, yb] = path[b];
    if ((ya > y) !== (yb > y) && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) hit = !hit;
  }
  return hit;
}

function showTip(i, x, y) {
  const tip = q(".cmap-tip"), d = data();
  if (!tip || !d) return;
  if (i < 0) { tip.style.display = "none"; return; }
  const id = d.ids[i];
  tip.style.display = "block";
  tip.dataset.page = id;
  q(".cmap-tip-text").textContent = d.tip[i];
  const img = q(".cmap-tip img");
  const known = st.thumbs.get(id);
  if (known) { img.src = known; img.style.display = "block"; }
  else {
    img.style.display = "none";
    img.removeAttribute("src");
    server.thumb(id).then((uri) => {
      if (typeof uri !== "string" || !uri.startsWith("data:image/")) return;
      st.thumbs.set(id, uri);
      if (tip.dataset.page === id) { img.src = uri; img.style.display = "block"; }
    });
  }
  const host = q(".cmap-plot").getBoundingClientRect();
  const left = x + 18 + 240 > host.width ? x - 18 - 240 : x + 18;
  tip.style.left = `${Math.max(0, left)}px`;
  tip.style.top = `${Math.max(0, Math.min(y - 20, host.height - 300))}px`;
}

function select(indices) {
  const d = data();
  st.selected = new Set(indices);
  draw();
  trigger("map_select", { page_ids: indices.map((i) => d.ids[i]) });
}

element.addEventListener("mousedown", (e) => {
  if (!e.target.classList.contains("cmap-canvas") || e.button !== 0) return;
  const [x, y] = local(e);
  st.drag = { x0: x, y0: y, x, y, path: [[x, y]], moved: false, lasso: st.mode === "lasso" || e.shiftKey };
  e.preventDefault();
});

element.addEventListener("mousemove", (e) => {
  if (!st.view || !e.target.classList.contains("cmap-canvas")) return;
  const [x, y] = local(e);
  const g = st.drag;
  if (g) {
    g.x = x; g.y = y; g.path.push([x, y]);
    g.moved = g.moved || Math.abs(x - g.x0) + Math.abs(y - g.y0) > 6;
    if (g.moved) { showTip(-1); draw(); return; }
  }
  const i = nearest(x, y);
  if (i !== st.hover) { st.hover = i; draw(); }
  showTip(i, x, y);
});

window.addEventListener("mouseup", (e) => {
  const g = st.drag;
  if (!g) return;
  st.drag = null;
  const v = st.view;
  if (!v) return;
  if (!g.moved) {
    const i = nearest(g.x0, g.y0);
    if (i >= 0) trigger("map_click", { page_id: v.d.ids[i] });
    return;
  }
  const [xa, xb] = [Math.min(g.x0, g.x), Math.max(g.x0, g.x)], [ya, yb] = [Math.min(g.y0, g.y), Math.max(g.y0, g.y)];
  const picked = [];
  for (let i = 0; i < v.d.ids.length; i++) {
    const x = v.px(i), y = v.py(i);
    if (g.lasso ? inside(g.path, x, y) : x >= xa && x <= xb && y >= ya && y <= yb) picked.push(i);
  }
  select(picked);
});

element.addEventListener("mouseleave", () => { st.hover = -1; showTip(-1); draw(); });

element.addEventListener("click", (e) => {
  const button = e.target.closest("button[data-mode], button.cmap-clear");
  if (!button) return;
  if (button.classList.contains("cmap-clear")) { select([]); return; }
  st.mode = button.dataset.mode;
  modes();
});

// for tests and the console: where a page is drawn, in the page's coordinates
window.comicsMap = {
  count: () => (data() ? data().ids.length : 0),
  ids: () => (data() ? data().ids.slice() : []),
  screen: (id) => {
    const v = view();
    const i = v ? v.d.ids.indexOf(id) : -1;
    if (i < 0) return null;
    const rect = v.canvas.getBoundingClientRect();
    return { x: rect.left + v.px(i), y: rect.top + v.py(i) };
  },
};

function modes() {
  element.querySelectorAll("button[data-mode]").forEach((b) => b.classList.toggle("active", b.dataset.mode === st.mode));
}

watch("value", () => { st.selected = new Set(); st.hover = -1; modes(); legend(); draw(); });
new ResizeObserver(() => draw()).observe(element);
modes();
legend();
draw();
