// The page map of the comics-search Space: the js_on_load of a gr.HTML (element, trigger, props,
// server, upload, watch are given). props.value (explore.map_value): columns ids, x, y, c (index into
// colours), o (outlier 0/1), t (index into types), k (cluster), n (panels), s (outlier score), and
// legend, kind, colour_by, shown, pages.
// Hover: the page's thumbnail and first lettered line (server.thumb, server.lettering: fetched once
// the pointer rests on a page, one request at a time, the last few hundred kept) and its tip line;
// click: trigger('map_click', {page_id}); drag: a box (or, in lasso mode or with Shift, a lasso)
// selects pages: trigger('map_select', {page_ids}).
// Scale (10^5 points): screen positions and a uniform grid of them (cells of CELL px, counting-sort
// layout) are computed once per data and canvas size; hover looks at the cells near the pointer,
// a box or lasso at the cells it covers. Three stacked canvases: the points (one path per colour,
// drawn when the data or the size change), the selection (the map veiled, the selected points
// again) and the hover ring and drag shape: moving the pointer or selecting never redraws the points.
// Data is only ever shown through textContent and image data: URIs, never as HTML.
const st = { hover: -1, selected: new Set(), mode: "box", drag: null, layout: null, want: null, busy: false };
const cache = new Map(); // page id -> {uri, text}, least recently used first
const CACHE = 300, REST_MS = 60, CELL = 16, PAD = 16, RINGS = 200; // ringed: a selection of at most RINGS (more is a blot)
const q = (sel) => element.querySelector(sel);
const data = () => (props.value && props.value.ids ? props.value : null);
const radius = (n) => (n > 20000 ? 2 : n > 3000 ? 3 : 4); // point radius, CSS px
const reach = (n) => radius(n) + 5; // hover distance, CSS px
const colour = (d, i) => d.colours[d.c[i]];
const tipLine = (d, i) => // the hover line, as explore.map_value describes it
  `${d.ids[i]} · ${d.types[d.t[i]] || "no page type"} · cluster ${d.k[i]} · ${d.n[i]} panel(s) · ` +
  `outlier score ${Number(d.s[i]).toFixed(2)}${d.o[i] ? " (outlier)" : ""}`;

function layout() {
  const canvas = q("canvas.cmap-canvas"), d = data();
  if (!canvas || !d) return null;
  const rect = canvas.getBoundingClientRect();
  const w = Math.max(1, rect.width), h = Math.max(1, rect.height);
  const old = st.layout;
  if (old && old.d === d && old.w === w && old.h === h) return old;
  const n = d.ids.length;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, d.x[i]); x1 = Math.max(x1, d.x[i]);
    y0 = Math.min(y0, d.y[i]); y1 = Math.max(y1, d.y[i]);
  }
  const scale = Math.min((w - 2 * PAD) / Math.max(x1 - x0, 1e-9), (h - 2 * PAD) / Math.max(y1 - y0, 1e-9));
  const ox = (w - scale * (x1 - x0)) / 2, oy = (h - scale * (y1 - y0)) / 2;
  const sx = new Float64Array(n), sy = new Float64Array(n);
  const nx = Math.ceil(w / CELL) + 1, ny = Math.ceil(h / CELL) + 1;
  const cellOf = new Int32Array(n), start = new Int32Array(nx * ny + 1), members = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    sx[i] = ox + scale * (d.x[i] - x0);
    sy[i] = h - (oy + scale * (d.y[i] - y0)); // y up
    const cx = Math.min(nx - 1, Math.max(0, Math.floor(sx[i] / CELL)));
    const cy = Math.min(ny - 1, Math.max(0, Math.floor(sy[i] / CELL)));
    cellOf[i] = cy * nx + cx;
    start[cellOf[i] + 1]++;
  }
  for (let c = 0; c < nx * ny; c++) start[c + 1] += start[c];
  const fill = start.slice(0, nx * ny);
  for (let i = 0; i < n; i++) members[fill[cellOf[i]]++] = i; // ascending ids within a cell
  const groups = new Map(); // colour -> point ids
  for (let i = 0; i < n; i++) {
    if (!groups.has(colour(d, i))) groups.set(colour(d, i), []);
    groups.get(colour(d, i)).push(i);
  }
  const index = new Map(d.ids.map((id, i) => [id, i]));
  st.layout = { canvas, d, w, h, n, sx, sy, nx, ny, start, members, groups, index };
  return st.layout;
}

// the point ids in the grid cells that [xa, xb] x [ya, yb] (CSS px) touches, cell by cell
function cells(L, xa, xb, ya, yb, visit) {
  const ca = Math.max(0, Math.floor(xa / CELL)), cb = Math.min(L.nx - 1, Math.floor(xb / CELL));
  const ra = Math.max(0, Math.floor(ya / CELL)), rb = Math.min(L.ny - 1, Math.floor(yb / CELL));
  for (let r = ra; r <= rb; r++)
    for (let c = ca; c <= cb; c++) {
      const cell = r * L.nx + c;
      for (let k = L.start[cell]; k < L.start[cell + 1]; k++) visit(L.members[k]);
    }
}

function nearest(x, y) { // the closest point within reach; ties: the lower id
  const L = st.layout;
  if (!L) return -1;
  const r = reach(L.n);
  let best = -1, dist = r * r;
  cells(L, x - r, x + r, y - r, y + r, (i) => {
    const dx = L.sx[i] - x, dy = L.sy[i] - y, dd = dx * dx + dy * dy;
    if (dd < dist || (dd === dist && i < best)) { dist = dd; best = i; }
  });
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

function within(g) { // the point ids inside a drag's box or lasso, ascending
  const L = st.layout, picked = [];
  if (!L) return picked;
  const xs = g.lasso ? g.path.map((p) => p[0]) : [g.x0, g.x], ys = g.lasso ? g.path.map((p) => p[1]) : [g.y0, g.y];
  const xa = Math.min(...xs), xb = Math.max(...xs), ya = Math.min(...ys), yb = Math.max(...ys);
  cells(L, xa, xb, ya, yb, (i) => {
    const x = L.sx[i], y = L.sy[i];
    if (x >= xa && x <= xb && y >= ya && y <= yb && (!g.lasso || inside(g.path, x, y))) picked.push(i);
  });
  return picked.sort((a, b) => a - b);
}

function sized(canvas, L) {
  const dpr = window.devicePixelRatio || 1;
  const W = Math.round(L.w * dpr), H = Math.round(L.h * dpr);
  if (canvas.width !== W || canvas.height !== H) { canvas.width = W; canvas.height = H; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, L.w, L.h);
  return ctx;
}

function dots(ctx, L, ids, r) { // one path of dots (squares at 2 px and less: the same to the eye, faster)
  ctx.beginPath();
  if (r <= 2) for (const i of ids) ctx.rect(L.sx[i] - r, L.sy[i] - r, 2 * r, 2 * r);
  else for (const i of ids) { ctx.moveTo(L.sx[i] + r, L.sy[i]); ctx.arc(L.sx[i], L.sy[i], r, 0, 2 * Math.PI); }
}

function draw() { // the base canvas: every point, outliers ringed red
  const L = layout();
  if (!L) return;
  const ctx = sized(L.canvas, L), r = radius(L.n);
  ctx.globalAlpha = 0.9;
  for (const [colour, ids] of L.groups) { ctx.fillStyle = colour; dots(ctx, L, ids, r); ctx.fill(); }
  ctx.globalAlpha = 1;
  const outliers = [];
  for (let i = 0; i < L.n; i++) if (L.d.o[i]) outliers.push(i);
  if (outliers.length) { dots(ctx, L, outliers, r); ctx.strokeStyle = "#d00"; ctx.lineWidth = 1.5; ctx.stroke(); }
  selection();
}

function selection() { // the selection canvas: the map veiled, the selected points again (ringed black)
  const L = st.layout, sel = q("canvas.cmap-sel");
  if (!L || !sel) return;
  const ctx = sized(sel, L), r = radius(L.n);
  if (st.selected.size) {
    ctx.fillStyle = "rgba(252,252,250,0.72)";
    ctx.fillRect(0, 0, L.w, L.h);
    const ids = [...st.selected].sort((a, b) => a - b);
    const byColour = new Map();
    for (const i of ids) {
      const c = colour(L.d, i);
      if (!byColour.has(c)) byColour.set(c, []);
      byColour.get(c).push(i);
    }
    ctx.globalAlpha = 0.9;
    for (const [colour, part] of byColour) { ctx.fillStyle = colour; dots(ctx, L, part, r); ctx.fill(); }
    ctx.globalAlpha = 1;
    if (ids.length <= RINGS) { dots(ctx, L, ids, r + 2); ctx.strokeStyle = "#111"; ctx.lineWidth = 1.5; ctx.stroke(); }
  }
  overlay();
}

function overlay() { // the overlay canvas: the hovered point and the drag's box or lasso
  const L = st.layout, over = q("canvas.cmap-over");
  if (!L || !over) return;
  const ctx = sized(over, L);
  if (st.hover >= 0 && st.hover < L.n) {
    ctx.beginPath(); ctx.arc(L.sx[st.hover], L.sy[st.hover], radius(L.n) + 4, 0, 2 * Math.PI);
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
  const rect = q("canvas.cmap-canvas").getBoundingClientRect();
  return [e.clientX - rect.left, e.clientY - rect.top];
}

function remember(id, entry) {
  cache.delete(id);
  cache.set(id, entry);
  if (cache.size > CACHE) cache.delete(cache.keys().next().value);
}

function fetchWanted() { // the hovered page's thumbnail and line, one request at a time
  const id = st.want;
  if (st.busy || !id || cache.has(id)) return;
  st.busy = true;
  Promise.all([server.thumb(id), server.lettering ? server.lettering(id) : ""])
    .then(([uri, text]) => {
      const ok = typeof uri === "string" && uri.startsWith("data:image/");
      remember(id, { uri: ok ? uri : "", text: typeof text === "string" ? text : "" });
      if (q(".cmap-tip").dataset.page === id) fillTip(id);
    })
    .catch(() => remember(id, { uri: "", text: "" }))
    .finally(() => { st.busy = false; if (st.want !== id) setTimeout(fetchWanted, REST_MS); });
}

function fillTip(id) {
  const entry = cache.get(id), img = q(".cmap-tip img"), line = q(".cmap-tip-line");
  if (!entry) { img.style.display = "none"; img.removeAttribute("src"); line.textContent = ""; return; }
  remember(id, entry);
  if (entry.uri) { img.src = entry.uri; img.style.display = "block"; } else img.style.display = "none";
  line.textContent = entry.text;
}

function showTip(i, x, y) {
  const tip = q(".cmap-tip"), d = data();
  if (!tip || !d) return;
  if (i < 0) { tip.style.display = "none"; tip.dataset.page = ""; st.want = null; return; }
  const id = d.ids[i];
  tip.style.display = "block";
  if (tip.dataset.page !== id) {
    tip.dataset.page = id;
    q(".cmap-tip-text").textContent = tipLine(d, i);
    fillTip(id);
    st.want = id;
    if (!cache.has(id)) setTimeout(() => { if (st.want === id) fetchWanted(); }, REST_MS);
  }
  const host = q(".cmap-plot").getBoundingClientRect();
  const left = x + 18 + 240 > host.width ? x - 18 - 240 : x + 18;
  tip.style.left = `${Math.max(0, left)}px`;
  tip.style.top = `${Math.max(0, Math.min(y - 20, host.height - 300))}px`;
}

function select(indices) {
  const d = data();
  st.selected = new Set(indices);
  selection();
  trigger("map_select", { page_ids: indices.map((i) => d.ids[i]) });
}

element.addEventListener("mousedown", (e) => {
  if (!e.target.classList.contains("cmap-canvas") || e.button !== 0) return;
  const [x, y] = local(e);
  st.drag = { x0: x, y0: y, x, y, path: [[x, y]], moved: false, lasso: st.mode === "lasso" || e.shiftKey };
  e.preventDefault();
});

element.addEventListener("mousemove", (e) => {
  if (!e.target.classList.contains("cmap-canvas") || !layout()) return;
  const [x, y] = local(e);
  const g = st.drag;
  if (g) {
    g.x = x; g.y = y; g.path.push([x, y]);
    g.moved = g.moved || Math.abs(x - g.x0) + Math.abs(y - g.y0) > 6;
    if (g.moved) { st.hover = -1; showTip(-1); overlay(); return; }
  }
  const i = nearest(x, y);
  if (i !== st.hover) { st.hover = i; overlay(); }
  showTip(i, x, y);
});

window.addEventListener("mouseup", () => {
  const g = st.drag;
  if (!g) return;
  st.drag = null;
  const L = st.layout;
  if (!L) return;
  if (!g.moved) {
    const i = nearest(g.x0, g.y0);
    if (i >= 0) trigger("map_click", { page_id: L.d.ids[i] });
    return;
  }
  select(within(g));
});

element.addEventListener("mouseleave", () => { st.hover = -1; showTip(-1); overlay(); });

element.addEventListener("click", (e) => {
  const button = e.target.closest("button[data-mode], button.cmap-clear");
  if (!button) return;
  if (button.classList.contains("cmap-clear")) { select([]); return; }
  st.mode = button.dataset.mode;
  modes();
});

// for tests, benchmarks and the console: where pages are drawn, in the window's CSS pixels
window.comicsMap = {
  count: () => (data() ? data().ids.length : 0),
  ids: () => (data() ? data().ids.slice() : []),
  screen: (id) => {
    const L = layout();
    const i = L ? L.index.get(id) : undefined;
    if (i === undefined) return null;
    const rect = L.canvas.getBoundingClientRect();
    return { x: rect.left + L.sx[i], y: rect.top + L.sy[i] };
  },
  positions: () => { // {ids, x, y, radius, reach}: every point at once
    const L = layout();
    if (!L) return null;
    const rect = L.canvas.getBoundingClientRect();
    return {
      ids: L.d.ids.slice(), x: Array.from(L.sx, (v) => rect.left + v), y: Array.from(L.sy, (v) => rect.top + v),
      radius: radius(L.n), reach: reach(L.n),
    };
  },
  hovered: () => (st.hover >= 0 && data() ? data().ids[st.hover] : null),
};

function modes() {
  element.querySelectorAll("button[data-mode]").forEach((b) => b.classList.toggle("active", b.dataset.mode === st.mode));
}

watch("value", () => { st.selected = new Set(); st.hover = -1; modes(); legend(); draw(); });
new ResizeObserver(() => draw()).observe(element);
modes();
legend();
draw();
