// labelport viewer: plain JavaScript, no build step. The page kind comes from <body data-page>.
"use strict";

const BODY = document.body.dataset;
const BASE = BODY.base || "";
const SVGNS = "http://www.w3.org/2000/svg";

// -- small helpers ------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v; // the CSSOM: the CSP refuses style attributes
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// replaceChildren without the nulls of optional parts
function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
  return node;
}

async function api(path) {
  const response = await fetch(BASE + path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const data = await response.json().catch(() => ({ message: response.statusText }));
  if (!response.ok) {
    const error = new Error(data.message || response.statusText);
    error.status = response.status;
    throw error;
  }
  return data;
}

function crumbs(...parts) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren();
  parts.forEach((p, i) => {
    if (i) nav.append(el("span", { class: "sep" }, "/"));
    nav.append(p.href ? el("a", { href: p.href }, p.text) : el("span", { class: "here" }, p.text));
  });
}

function showError(error) {
  const main = document.getElementById("main");
  const status = error.status || "";
  main.replaceChildren(el("div", { class: "error-page" },
    el("h1", {}, String(status || "!")), el("p", {}, error.message || String(error)),
    el("p", {}, el("a", { href: BASE + "/", class: "linkish" }, "All projects"))));
}

// A long title keeps its start and its end (where COCO file names differ): `COCO_val…000000139.jpg`,
// as many characters as its box holds; the whole title is its tooltip (the title attribute).
const middleCut = (text, max) => (text.length <= max ? text : `${text.slice(0, Math.ceil((max - 1) * 0.4))}…${text.slice(text.length - Math.floor((max - 1) * 0.6))}`);
function fitTitles(root) {
  for (const span of root.querySelectorAll(".title[title]")) {
    const full = span.title;
    if (span.textContent === full && span.scrollWidth <= span.clientWidth) continue;
    let lo = 3, hi = full.length;  // the longest cut that fits
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      span.textContent = middleCut(full, mid);
      if (span.scrollWidth <= span.clientWidth) lo = mid; else hi = mid - 1;
    }
    span.textContent = middleCut(full, lo);
  }
}
const plural = (n, word) => `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
const pct = (x) => (x === null || x === undefined ? "" : `${Math.round(x * 100)}%`);

// -- drawing marks as SVG (the same marks Pillow draws for thumbnails and `labelport render`) ----

// A stored evaluation (labelport.viewer.evaluation) colours each mark by its match instead of its class.
// Its words and colours, and the curves' colours, come from labelport.evaluation.kinds (the PNGs use them too).
const PALETTE = JSON.parse(BODY.palette || "{}");
const MATCH_COLOURS = PALETTE.match_colours || {};
const MATCH_NAMES = PALETTE.match_names || {};
function matchColour(mark, matches) {
  const kind = matches && matches[mark.object_hash];
  return kind ? MATCH_COLOURS[kind] : mark.color;
}
function matchLegend(counts) {
  return el("div", { class: "classes", id: "match-legend" }, Object.keys(MATCH_COLOURS).map((k) => el("div", { class: "class-row", "data-match": k },
    el("span", { class: "swatch", style: `background:${MATCH_COLOURS[k]}` }), el("span", { class: "name" }, MATCH_NAMES[k]), el("span", { class: "count" }, counts ? counts[k] || 0 : ""))));
}

function ringPoints(ring) {
  const out = [];
  for (let i = 0; i + 1 < ring.length; i += 2) out.push(`${ring[i]},${ring[i + 1]}`);
  return out.join(" ");
}

function drawMark(mark, size, opts = {}) {
  const colour = matchColour(mark, opts.matches);
  const g = svg("g", {
    class: "mark" + (opts.compare ? " compare" : ""),
    "data-object-hash": mark.object_hash,
    "data-feature-hash": mark.feature_hash,
    "data-kind": mark.kind,
  });
  const match = opts.matches && opts.matches[mark.object_hash];
  if (match) { g.dataset.match = match; g.dataset.colour = colour; }
  const r = Math.max(2, Math.max(size.w, size.h) / 160);
  if (mark.kind === "polygon") {
    for (const ring of mark.rings) g.append(svg("polygon", { class: "area", points: ringPoints(ring), fill: colour, stroke: colour }));
  } else if (mark.kind === "polyline") {
    for (const ring of mark.rings) g.append(svg("polyline", { class: "line", points: ringPoints(ring), stroke: colour }));
  } else if (mark.kind === "mask" && mark.mask) {
    const m = mark.mask;
    g.append(svg("image", { href: m.png, x: m.x, y: m.y, width: m.w, height: m.h, preserveAspectRatio: "none" }));
  } else if (mark.kind === "point" || mark.kind === "skeleton") {
    const points = mark.keypoints || [];
    for (const [a, b] of mark.edges || []) {
      // an edge naming a keypoint the skeleton lacks (a copied skeleton) points nowhere: not drawn
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= points.length || b >= points.length) continue;
      const pa = points[a], pb = points[b];
      if (pa && pb && pa[2] > 0 && pb[2] > 0) g.append(svg("line", { class: "edge", x1: pa[0], y1: pa[1], x2: pb[0], y2: pb[1], stroke: colour }));
    }
    points.forEach((p) => {
      if (!(p[2] > 0)) return;
      g.append(svg("circle", { class: "kp" + (p[2] === 1 ? " hidden" : ""), cx: p[0], cy: p[1], r, fill: colour }));
    });
  }
  g.__mark = mark;
  return g;
}

function marksLayer(marks, size, opts = {}) {
  const layer = svg("svg", { class: "marks", viewBox: `0 0 ${size.w} ${size.h}`, preserveAspectRatio: "xMidYMid meet" });
  if (opts.canvas) layer.append(svg("rect", { width: size.w, height: size.h, fill: "#3a3e46" }));  // no pixels: a plain canvas
  // areas under lines under points, so that nothing small hides under something large
  const order = { mask: 0, polygon: 1, polyline: 2, skeleton: 3, point: 4 };
  const sorted = marks.filter((m) => m.kind !== "none").sort((a, b) => order[a.kind] - order[b.kind]);
  for (const mark of sorted) layer.append(drawMark(mark, size, opts));
  return layer;
}

// the card shown while the pointer is over a label
function cardFor(mark, branch) {
  const c = mark.card || {};
  const rows = [["class", c.class], ["shape", c.shape]];
  for (const [k, v] of Object.entries(c.answers || {})) rows.push([k, v]);
  rows.push(["confidence", c.confidence === undefined ? "" : c.confidence.toFixed(3)]);
  rows.push(["made", (c.manual ? "by hand" : "automatically") + (c.created_by ? ` by ${c.created_by}` : "")]);
  if (c.created_at) rows.push(["when", c.created_at.replace("T", " ").replace("+00:00", " UTC")]);
  if (c.source) rows.push(["source", `${c.source}, annotation ${c.annotation_id}`]);
  if (branch) rows.push(["branch", branch]);
  rows.push(["object", mark.object_hash]);
  if (c.error) rows.push(["unreadable", c.error]);
  return [el("div", { class: "head" }, el("span", { class: "swatch", style: `background:${mark.color}` }), c.class || mark.title),
    el("dl", {}, rows.filter((r) => r[1] !== undefined && r[1] !== null && r[1] !== "").map(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]))];
}

function attachCard(root) {
  const card = document.getElementById("card");
  root.addEventListener("mouseover", (e) => {
    const g = e.target.closest && e.target.closest(".mark");
    if (!g || !g.__mark) return;
    card.replaceChildren(...cardFor(g.__mark, g.__branch));
    card.hidden = false;
  });
  root.addEventListener("mousemove", (e) => {
    if (card.hidden) return;
    const x = Math.min(e.clientX + 16, window.innerWidth - card.offsetWidth - 8);
    const y = Math.min(e.clientY + 16, window.innerHeight - card.offsetHeight - 8);
    card.style.left = `${x}px`; card.style.top = `${y}px`;
  });
  root.addEventListener("mouseout", (e) => {
    const g = e.target.closest && e.target.closest(".mark");
    if (g && !(e.relatedTarget && g.contains(e.relatedTarget))) card.hidden = true;
  });
}

// -- the projects page --------------------------------------------------------------------------

async function projectsPage() {
  crumbs({ text: "Projects" });
  const data = await api("/api/projects");
  document.getElementById("me").textContent = data.user;
  const main = document.getElementById("main");
  const list = data.projects.map((p) => el("a", { class: "project", href: `${BASE}/projects/${p.project_hash}`, "data-project-hash": p.project_hash },
    el("h2", {}, p.title), el("div", { class: "sub" }, p.description || "\u00a0"),
    el("div", { class: "sub" }, `made by ${p.created_by}${p.created_at ? ` on ${p.created_at.slice(0, 10)}` : ""}`),
    el("div", { class: "num" }, p.units.toLocaleString(), " ", el("small", {}, p.units === 1 ? "data unit" : "data units"))));
  main.replaceChildren(el("section", { class: "projects" }, el("h1", {}, "Projects"),
    list.length ? el("div", { class: "project-list" }, list) : el("p", { class: "empty" }, "No projects you may see yet.")));
}

// -- the grid -----------------------------------------------------------------------------------

const GRID_KEYS = ["class", "branch", "compare", "errors", "layout", "conf", "attr", "q", "type", "page"];

function readState() {
  const p = new URLSearchParams(location.search);
  return {
    class: p.getAll("class"), branch: p.get("branch") || "", compare: p.get("compare") || "",
    layout: p.get("layout") || "overlay", conf: p.get("conf") || "", attr: p.get("attr") || "",
    q: p.get("q") || "", type: p.get("type") || "", errors: p.get("errors") || "", page: parseInt(p.get("page") || "1", 10) || 1,
  };
}

function stateQuery(state, extra = {}) {
  const p = new URLSearchParams();
  const all = { ...state, ...extra };
  for (const key of GRID_KEYS) {
    const v = all[key];
    if (Array.isArray(v)) v.forEach((x) => p.append(key, x));
    else if (v !== "" && v !== null && v !== undefined && !(key === "page" && v === 1) && !(key === "layout" && v === "overlay")) p.set(key, v);
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

async function gridPage() {
  const projectHash = BODY.projectHash;
  const project = await api(`/api/projects/${projectHash}`);
  crumbs({ text: "Projects", href: `${BASE}/` }, { text: project.title });
  document.title = `${project.title} · labelport`;
  const classes = Object.fromEntries(project.classes.map((c) => [c.feature_hash, c]));
  let state = readState();
  const main = document.getElementById("main");
  const filters = el("aside", { class: "filters" });
  const head = el("div", { class: "results-head" });
  const units = el("div", { class: "units", id: "units" });
  const pager = el("div", { class: "pager" });
  main.replaceChildren(el("div", { class: "browse" }, filters, el("section", { class: "results" }, head, units, pager)));
  attachCard(units);

  let timer = null;
  const change = (patch, now = true) => {
    state = { ...state, page: 1, ...patch };
    document.body.dataset.ready = "";  // tests wait for "grid" again after the reload
    history.replaceState(null, "", location.pathname + stateQuery(state));
    clearTimeout(timer);
    timer = setTimeout(load, now ? 0 : 250);
  };

  let counts = null;  // objects per class for the filters; asked for after the page itself
  let countsFor = null;  // the filters those counts are for
  function buildFilters() {
    const branchOptions = (value, none) => [none ? el("option", { value: "" }, none) : null,
      ...project.branches.map((b) => el("option", { value: b, selected: b === value }, b))];
    const attrs = [];
    for (const c of project.classes) for (const a of c.attributes) attrs.push([c, a]);
    const rows = project.classes.map((c) => {
      const n = counts ? counts[c.feature_hash] || 0 : null;
      const box = el("input", { type: "checkbox", checked: state.class.includes(c.feature_hash),
        onchange: (e) => change({ class: e.target.checked ? [...state.class, c.feature_hash] : state.class.filter((x) => x !== c.feature_hash) }) });
      return el("label", { class: "class-row" + (n === 0 ? " zero" : ""), "data-feature-hash": c.feature_hash }, box,
        el("span", { class: "swatch", style: `background:${c.color}` }), el("span", { class: "name", title: `${c.title} (${c.shape})` }, c.title),
        el("span", { class: "count" }, n === null ? "…" : n.toLocaleString()));
    });
    const attrSelect = el("select", { id: "f-attr", onchange: (e) => change({ attr: e.target.value }) }, el("option", { value: "" }, "any"));
    for (const [c, a] of attrs) {
      for (const o of a.options) attrSelect.append(el("option", { value: `${a.feature_hash}=${o.feature_hash}`, selected: state.attr === `${a.feature_hash}=${o.feature_hash}` }, `${c.title} · ${a.name} = ${o.label}`));
    }
    const textAttrs = attrs.filter(([, a]) => a.type === "text");
    fill(filters, 
      el("h3", {}, "Search"),
      el("div", { class: "field" }, el("input", { type: "search", id: "f-q", placeholder: "Title contains…", value: state.q, oninput: (e) => change({ q: e.target.value }, false) })),
      el("h3", {}, "Branches"),
      el("div", { class: "field" }, el("label", { for: "f-branch" }, "labels from"), el("select", { id: "f-branch", onchange: (e) => change({ branch: e.target.value }) }, branchOptions(state.branch || "main"))),
      el("div", { class: "field" }, el("label", { for: "f-compare" }, "compare with"), el("select", { id: "f-compare", onchange: (e) => change({ compare: e.target.value }) }, branchOptions(state.compare, "nothing"))),
      state.compare ? el("div", { class: "field" }, el("select", { id: "f-layout", onchange: (e) => change({ layout: e.target.value }) },
        el("option", { value: "overlay", selected: state.layout === "overlay" }, "overlaid"), el("option", { value: "side", selected: state.layout === "side" }, "side by side"))) : null,
      state.compare ? el("div", { class: "field" }, el("label", { for: "f-errors" }, "evaluation errors"), el("select", { id: "f-errors", onchange: (e) => change({ errors: e.target.value }) },
        el("option", { value: "" }, "every unit"), el("option", { value: "fp", selected: state.errors === "fp" }, "false positives, worst first"),
        el("option", { value: "fn", selected: state.errors === "fn" }, "false negatives, worst first"))) : null,
      state.compare ? el("a", { class: "linkish", id: "evaluation-link", href: `${BASE}/projects/${projectHash}/evaluation?branch=${encodeURIComponent(state.branch || "main")}&compare=${encodeURIComponent(state.compare)}` }, "Evaluation of this comparison →") : null,
      el("h3", {}, "Classes ", state.class.length ? el("button", { class: "linkish", onclick: () => change({ class: [] }) }, "clear") : null),
      el("div", { class: "classes", id: "f-classes" }, rows),
      el("h3", {}, "Confidence at least"),
      el("div", { class: "field" }, el("input", { type: "range", id: "f-conf", min: 0, max: 1, step: 0.05, value: state.conf || 0,
        oninput: (e) => { e.target.nextSibling.textContent = pct(+e.target.value); change({ conf: +e.target.value > 0 ? e.target.value : "" }, false); } }), el("span", { class: "kbd" }, pct(+(state.conf || 0)))),
      attrs.length ? el("h3", {}, "Attribute") : null,
      attrs.length ? el("div", { class: "field" }, attrSelect) : null,
      textAttrs.length ? el("div", { class: "field" }, el("input", { type: "text", id: "f-attr-text", placeholder: `${textAttrs[0][1].name} is…`,
        onchange: (e) => change({ attr: e.target.value ? `${textAttrs[0][1].feature_hash}=${e.target.value}` : "" }) })) : null,
      el("h3", {}, "Data type"),
      el("div", { class: "field" }, el("select", { id: "f-type", onchange: (e) => change({ type: e.target.value }) }, el("option", { value: "" }, "any"),
        project.data_types.map((t) => el("option", { value: t, selected: state.type === t }, t.replace("_", " "))))),
    );
  }

  function card(u, data, at) {
    const q = stateQuery(state, { page: 1 });
    const href = `${BASE}/projects/${projectHash}/units/${u.data_hash}${q}${q ? "&" : "?"}at=${at}`;
    const size = { w: u.width, h: u.height };
    const thumb = (marks, opts, tag) => {
      const box = el("div", { class: "thumb" });
      const pixels = u.image.src && !u.image.video;
      if (pixels) box.append(el("img", { src: u.image.src.startsWith("http") ? u.image.src : u.thumb, alt: "", loading: "lazy" }));
      const layer = marksLayer(marks, size, { ...opts, canvas: !pixels, matches: opts.compare ? u.compare_matches : u.matches });
      layer.querySelectorAll(".mark").forEach((g) => { g.__branch = opts.branch; });
      box.append(layer);
      if (tag) box.append(el("span", { class: "tag" }, tag));
      return box;
    };
    const branch = state.branch || "main";
    const side = data.compare && state.layout === "side";
    const pics = side
      ? el("div", { class: "pair" }, thumb(u.marks, { branch }, branch), thumb(u.compare_marks || [], { branch: state.compare, compare: true }, state.compare))
      : (() => {
        const t = thumb(u.marks, { branch });
        if (u.compare_marks) {
          const layer = marksLayer(u.compare_marks, size, { compare: true, matches: u.compare_matches });
          layer.querySelectorAll(".mark").forEach((g) => { g.__branch = state.compare; });
          t.append(layer);
        }
        return t;
      })();
    const n = u.marks.filter((m) => m.kind !== "none").length;
    return el("a", { class: "unit", href, "data-data-hash": u.data_hash, title: u.title }, pics,
      el("div", { class: "meta" }, el("span", { class: "title", title: u.title }, u.title),
        u.data_type !== "image" ? el("span", { class: "badge" }, `${u.data_type.replace("_", " ")} · ${u.frames}`) : null,
        u.errors ? el("span", { class: "badge errors" }, plural(u.errors, state.errors === "fn" ? "miss" : "false positive").replace("misss", "misses")) : null,
        el("span", { class: "labels" }, plural(n, "label"))),
      u.image.note ? el("div", { class: "note", title: u.image.note }, u.image.short || u.image.note) : null);
  }

  async function load() {
    const query = stateQuery(state);
    if (stateQuery(state, { page: 1 }) !== countsFor) counts = null;  // shown as "…" until they come
    document.body.dataset.ready = "";
    units.classList.add("busy");
    let data;
    try {
      data = await api(`/api/projects/${projectHash}/units${query}${query ? "&" : "?"}`);
    } catch (error) {
      units.replaceChildren(el("p", { class: "empty" }, error.message));
      return;
    } finally { units.classList.remove("busy"); }
    data.compare = state.compare;
    const focused = document.activeElement && document.activeElement.id;
    buildFilters();
    if (focused === "f-q") { const q = document.getElementById("f-q"); q.focus(); q.setSelectionRange(q.value.length, q.value.length); }
    const pages = Math.max(1, Math.ceil(data.total / data.per));
    const chosen = state.class.map((h) => classes[h] ? classes[h].title : h);
    head.replaceChildren(el("span", { class: "total", id: "total" }, plural(data.total, "data unit")),
      el("span", { class: "hint" }, [chosen.length ? `with ${chosen.join(" or ")}` : "", state.q ? `titled *${state.q}*` : "", `labels from ${state.branch || "main"}`, state.compare ? `compared with ${state.compare}` : ""].filter(Boolean).join(" · ")));
    units.replaceChildren(...(data.units.length ? data.units.map((u, i) => card(u, data, data.offset + i)) : [el("p", { class: "empty" }, "No data units match these filters.")]));
    fitTitles(units);
    units.scrollTop = 0;
    pager.replaceChildren(
      el("button", { class: "btn", id: "prev-page", disabled: state.page <= 1, onclick: () => { state.page -= 1; history.replaceState(null, "", location.pathname + stateQuery(state)); load(); } }, "← Previous"),
      el("span", { class: "kbd" }, `page ${state.page.toLocaleString()} of ${pages.toLocaleString()}`),
      el("button", { class: "btn", id: "next-page", disabled: state.page >= pages, onclick: () => { state.page += 1; history.replaceState(null, "", location.pathname + stateQuery(state)); load(); } }, "Next →"));
    const countsQuery = stateQuery(state, { page: 1 });  // the same filters on another page: the same counts
    if (countsQuery !== countsFor) {
      try {
        counts = (await api(`/api/projects/${projectHash}/counts${countsQuery}`)).counts;
        countsFor = countsQuery;
      } catch (error) { counts = null; countsFor = null; }
    }
    if (query === stateQuery(state)) {
      const focusedNow = document.activeElement && document.activeElement.id;
      buildFilters();
      if (focusedNow === "f-q") { const q = document.getElementById("f-q"); q.focus(); q.setSelectionRange(q.value.length, q.value.length); }
      document.body.dataset.ready = "grid";
    }
  }
  await load();
}

// -- a unit's page ------------------------------------------------------------------------------

async function unitPage() {
  const projectHash = BODY.projectHash, dataHash = BODY.dataHash;
  const state = readState();
  const params = new URLSearchParams(location.search);
  const branch = state.branch || "main";
  const q = new URLSearchParams({ branch });
  if (state.compare) q.set("compare", state.compare);
  const [project, unit] = await Promise.all([api(`/api/projects/${projectHash}`), api(`/api/projects/${projectHash}/units/${dataHash}?${q}`)]);
  const gridHref = `${BASE}/projects/${projectHash}${stateQuery(state, { page: 1 })}`;
  crumbs({ text: "Projects", href: `${BASE}/` }, { text: project.title, href: gridHref }, { text: unit.title });
  document.title = `${unit.title} · labelport`;
  const classes = Object.fromEntries(project.classes.map((c) => [c.feature_hash, c]));
  const hidden = new Set();
  const frames = unit.frames;
  let frame = Math.min(frames - 1, parseInt(params.get("frame") || "0", 10) || 0);
  const side = state.compare && state.layout === "side";

  const main = document.getElementById("main");
  const sidePanel = el("aside", { class: "side" });
  const toolbar = el("div", { class: "toolbar" });
  const stages = el("div", { class: "stages" });
  const frameBar = frames > 1 ? el("div", { class: "frames" }) : null;
  main.replaceChildren(el("div", { class: "viewer" }, sidePanel, el("section", { class: "work" }, toolbar, stages, frameBar)));

  // one or two stages share one view (zoom and pan)
  const view = { scale: 1, x: 0, y: 0 };
  const stageList = [];
  function makeStage(label, marks, opts) {
    const stage = el("div", { class: "stage" });
    const plane = el("div", { class: "plane", id: stageList.length ? "plane-2" : "plane" });
    stage.append(plane);
    if (label) stage.append(el("span", { class: "label" }, label));
    stages.append(stage);
    const entry = { stage, plane, marks, opts };
    stageList.push(entry);
    attachCard(stage);
    return entry;
  }
  const primary = makeStage(side ? branch : (state.compare ? `${branch} (solid) · ${state.compare} (dashed)` : ""), unit.marks, { branch });
  if (state.compare) {
    if (side) makeStage(state.compare, unit.compare_marks || [], { branch: state.compare, compare: true });
    else primary.extra = { marks: unit.compare_marks || [], opts: { branch: state.compare, compare: true } };
  }

  function frameImage(f) {
    return unit.frame_images[Math.min(f, unit.frame_images.length - 1)];
  }
  function frameSize(f) {
    const fi = frameImage(f);
    return { w: fi.width || unit.width, h: fi.height || unit.height };
  }
  function applyView() {
    for (const s of stageList) s.plane.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
    const z = document.getElementById("zoom-level");
    if (z) z.textContent = `${Math.round(view.scale * 100)}%`;
  }
  function fit() {
    const size = frameSize(frame);
    const r = stageList[0].stage.getBoundingClientRect();
    view.scale = Math.min((r.width - 24) / size.w, (r.height - 24) / size.h);
    if (!isFinite(view.scale) || view.scale <= 0) view.scale = 1;
    view.x = (r.width - size.w * view.scale) / 2;
    view.y = (r.height - size.h * view.scale) / 2;
    applyView();
  }
  function zoomAt(factor, cx, cy) {
    const s = Math.min(40, Math.max(0.05, view.scale * factor));
    view.x = cx - ((cx - view.x) * s) / view.scale;
    view.y = cy - ((cy - view.y) * s) / view.scale;
    view.scale = s;
    applyView();
  }

  function drawStage(s) {
    const size = frameSize(frame);
    const fi = frameImage(frame);
    s.plane.style.width = `${size.w}px`; s.plane.style.height = `${size.h}px`;
    const children = [];
    const note = (text) => s.stage.querySelector(".canvas-note") || s.stage.appendChild(el("div", { class: "canvas-note" }, text));
    s.stage.querySelectorAll(".canvas-note").forEach((n) => n.remove());
    if (fi.src && fi.video) {
      const video = el("video", { src: fi.src, width: size.w, height: size.h, muted: true, preload: "auto" });
      video.addEventListener("loadedmetadata", () => { video.currentTime = frame / (unit.fps || 25); });
      video.addEventListener("error", () => note("The video could not be played by this browser."));
      children.push(video);
    } else if (fi.src) {
      const img = el("img", { src: fi.src, width: size.w, height: size.h, alt: unit.title, draggable: "false" });
      img.addEventListener("error", () => { img.replaceWith(el("div", { class: "canvas", style: `width:${size.w}px;height:${size.h}px` })); note("The image could not be read; labels are drawn on a plain canvas of the unit's size."); });
      children.push(img);
    } else {
      children.push(el("div", { class: "canvas", style: `width:${size.w}px;height:${size.h}px` }));
      note(`${fi.note}; labels are drawn on a plain canvas of the unit's size.`);
    }
    const onFrame = (marks) => marks.filter((m) => (m.card.frame || 0) === frame);
    const layers = [[onFrame(s.marks), s.opts]];
    if (s.extra) layers.push([onFrame(s.extra.marks), s.extra.opts]);
    for (const [marks, opts] of layers) {
      const layer = marksLayer(marks, size, { ...opts, matches: opts.compare ? unit.compare_matches : unit.matches });
      layer.setAttribute("width", size.w); layer.setAttribute("height", size.h);
      layer.querySelectorAll(".mark").forEach((g) => { g.__branch = opts.branch; if (hidden.has(g.dataset.featureHash)) g.classList.add("off"); });
      children.push(layer);
    }
    s.plane.replaceChildren(...children);
  }
  function drawAll() { stageList.forEach(drawStage); buildSide(); }

  function matchCounts(all) {
    const out = {};
    for (const m of all) {
      const k = (unit.compare_marks || []).includes(m) ? unit.compare_matches[m.object_hash] : unit.matches[m.object_hash];
      if (k) out[k] = (out[k] || 0) + 1;
    }
    return out;
  }
  function buildSide() {
    const all = [...unit.marks, ...(unit.compare_marks || [])].filter((m) => (m.card.frame || 0) === frame);
    const counts = {};
    for (const m of all) counts[m.feature_hash] = (counts[m.feature_hash] || 0) + 1;
    const legend = project.classes.filter((c) => counts[c.feature_hash]).map((c) => el("label", { class: "class-row", "data-feature-hash": c.feature_hash },
      el("input", { type: "checkbox", checked: !hidden.has(c.feature_hash), onchange: (e) => {
        if (e.target.checked) hidden.delete(c.feature_hash); else hidden.add(c.feature_hash);
        document.querySelectorAll(`.stage .mark[data-feature-hash="${c.feature_hash}"]`).forEach((g) => g.classList.toggle("off", !e.target.checked));
      } }), el("span", { class: "swatch", style: `background:${c.color}` }), el("span", { class: "name" }, c.title), el("span", { class: "count" }, counts[c.feature_hash])));
    const objects = unit.marks.filter((m) => (m.card.frame || 0) === frame).map((m) => el("div", { class: "obj", title: m.object_hash },
      el("span", { class: "swatch", style: `background:${m.color}` }), `${m.title}`, el("span", { class: "kbd" }, m.shape.replace(/_/g, " ")),
      el("span", { class: "conf" }, m.card.error ? "unreadable" : pct(m.card.confidence))));
    const info = [`${unit.width} × ${unit.height}`, unit.data_type.replace("_", " "), frames > 1 ? plural(frames, "frame") : null].filter(Boolean).join(" · ");
    fill(sidePanel, el("h2", {}, unit.title), el("div", { class: "sub" }, info),
      unit.matches ? el("h3", {}, "Evaluation") : null, unit.matches ? matchLegend(matchCounts(all)) : null,
      unit.matches ? el("a", { class: "linkish", href: `${BASE}/projects/${projectHash}/evaluation?branch=${encodeURIComponent(branch)}&compare=${encodeURIComponent(state.compare)}` }, "Evaluation page →") : null,
      el("h3", {}, "Legend"), legend.length ? el("div", { class: "classes", id: "legend" }, legend) : el("p", { class: "kbd" }, "No labels on this frame."),
      el("h3", {}, `Labels on ${branch}`), el("div", { class: "objects" }, objects),
      unit.classifications.length ? el("h3", {}, "Classifications") : null,
      ...unit.classifications.map((c) => el("div", { class: "kbd" }, `${c.title}: ${typeof c.answer === "string" ? c.answer : JSON.stringify(c.answer)}`)),
      el("h3", {}, "Keys"), el("p", { class: "kbd" }, "Scroll to zoom, drag to pan, F to fit, 1 for actual pixels, ← → for frames, N and P for the next and previous unit."));
  }

  // the units before and after this one in the grid's filtered order (the grid's link says where)
  const at = params.has("at") ? parseInt(params.get("at"), 10) : NaN;
  const neighbour = async (index) => {
    if (!(index >= 0)) return null;
    const q = stateQuery(state, { page: index + 1 });
    const found = await api(`/api/projects/${projectHash}/units${q}${q ? "&" : "?"}per=1`).catch(() => null);
    return found && found.units.length ? { hash: found.units[0].data_hash, title: found.units[0].title, index, total: found.total } : null;
  };
  const step = (n) => {
    if (!n) return null;
    const keep = new URLSearchParams(params);
    keep.set("at", n.index); keep.delete("frame");
    return `${BASE}/projects/${projectHash}/units/${n.hash}?${keep}`;
  };
  const [before, after] = isNaN(at) ? [null, null] : await Promise.all([neighbour(at - 1), neighbour(at + 1)]);
  const prevHref = step(before), nextHref = step(after);
  const total = (after || before || {}).total;

  const zoomLabel = el("span", { class: "zoom", id: "zoom-level" });
  fill(toolbar, 
    el("a", { class: "btn", href: gridHref }, "← Grid"),
    isNaN(at) ? null : el("a", { class: "btn" + (prevHref ? "" : " disabled"), id: "prev-unit", href: prevHref || null, title: before ? before.title : "" }, "‹ Previous"),
    isNaN(at) ? null : el("span", { class: "kbd" }, total ? `${(at + 1).toLocaleString()} of ${total.toLocaleString()}` : ""),
    isNaN(at) ? null : el("a", { class: "btn" + (nextHref ? "" : " disabled"), id: "next-unit", href: nextHref || null, title: after ? after.title : "" }, "Next ›"),
    el("label", { class: "kbd" }, "branch"),
    el("select", { id: "u-branch", onchange: (e) => { params.set("branch", e.target.value); location.search = params; } }, project.branches.map((b) => el("option", { value: b, selected: b === branch }, b))),
    el("label", { class: "kbd" }, "compare"),
    el("select", { id: "u-compare", onchange: (e) => { if (e.target.value) params.set("compare", e.target.value); else params.delete("compare"); location.search = params; } },
      el("option", { value: "" }, "nothing"), project.branches.map((b) => el("option", { value: b, selected: b === state.compare }, b))),
    state.compare ? el("button", { class: "btn" + (side ? " on" : ""), onclick: () => { params.set("layout", side ? "overlay" : "side"); location.search = params; } }, side ? "Side by side" : "Overlaid") : null,
    el("span", { class: "spacer" }),
    el("button", { class: "btn", onclick: () => { const r = stageList[0].stage.getBoundingClientRect(); zoomAt(1 / 1.25, r.width / 2, r.height / 2); } }, "−"),
    zoomLabel,
    el("button", { class: "btn", onclick: () => { const r = stageList[0].stage.getBoundingClientRect(); zoomAt(1.25, r.width / 2, r.height / 2); } }, "+"),
    el("button", { class: "btn", id: "fit", onclick: fit }, "Fit"),
    el("button", { class: "btn", id: "actual", onclick: () => { view.scale = 1; view.x = 0; view.y = 0; applyView(); } }, "1:1"));

  for (const s of stageList) {
    s.stage.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = s.stage.getBoundingClientRect();
      zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    s.stage.addEventListener("pointerdown", (e) => {
      const start = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y };
      s.stage.classList.add("dragging");
      s.stage.setPointerCapture(e.pointerId);
      const move = (m) => { view.x = start.vx + m.clientX - start.x; view.y = start.vy + m.clientY - start.y; applyView(); };
      const up = () => { s.stage.classList.remove("dragging"); s.stage.removeEventListener("pointermove", move); s.stage.removeEventListener("pointerup", up); };
      s.stage.addEventListener("pointermove", move);
      s.stage.addEventListener("pointerup", up);
    });
  }

  function setFrame(f) {
    frame = Math.max(0, Math.min(frames - 1, f));
    params.set("frame", frame);
    history.replaceState(null, "", `${location.pathname}?${params}`);
    drawAll();
    if (frameBar) {
      frameBar.querySelector("input").value = frame;
      frameBar.querySelector(".which").textContent = `${frame + 1} / ${frames} · ${frameImage(frame).title || ""}`;
    }
  }
  if (frameBar) {
    frameBar.append(el("button", { class: "btn", onclick: () => setFrame(frame - 1) }, "‹"),
      el("input", { type: "range", id: "frame", min: 0, max: frames - 1, value: frame, oninput: (e) => setFrame(+e.target.value) }),
      el("button", { class: "btn", onclick: () => setFrame(frame + 1) }, "›"), el("span", { class: "which" }));
  }
  document.addEventListener("keydown", (e) => {
    if (e.target.matches && e.target.matches("input, select")) return;
    if (e.key === "f" || e.key === "F") fit();
    else if (e.key === "1") { view.scale = 1; view.x = 0; view.y = 0; applyView(); }
    else if (e.key === "ArrowRight") setFrame(frame + 1);
    else if (e.key === "ArrowLeft") setFrame(frame - 1);
    else if ((e.key === "n" || e.key === "PageDown") && nextHref) location.href = nextHref;
    else if ((e.key === "p" || e.key === "PageUp") && prevHref) location.href = prevHref;
  });
  setFrame(frame);
  if (params.get("zoom") === "1") { view.scale = 1; view.x = 0; view.y = 0; applyView(); } else fit();
  window.addEventListener("resize", () => { if (params.get("zoom") !== "1") fit(); });
  document.body.dataset.ready = "unit";
}

// -- an evaluation's page ------------------------------------------------------------------------

const fmt = (x) => (x === null || x === undefined || x < 0 ? "–" : x.toFixed(3));

function curvesSvg(curves) {
  // mean precision over the categories at each recall threshold, one line per IoU threshold shown
  const W = 420, H = 300, pad = 36;
  const chart = svg("svg", { id: "pr-curves", viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "chart" });
  chart.append(svg("rect", { x: pad, y: 8, width: W - pad - 8, height: H - pad - 8, fill: "none", stroke: "#666" }));
  const x = (r) => pad + r * (W - pad - 8), y = (p) => 8 + (1 - p) * (H - pad - 8);
  for (const t of [0, 0.5, 1]) {
    const lx = svg("text", { x: x(t), y: H - 18, "text-anchor": "middle", class: "axis" }); lx.textContent = t; chart.append(lx);
    const ly = svg("text", { x: pad - 4, y: y(t) + 4, "text-anchor": "end", class: "axis" }); ly.textContent = t; chart.append(ly);
  }
  const xl = svg("text", { x: W / 2, y: H - 4, "text-anchor": "middle", class: "axis" }); xl.textContent = "recall"; chart.append(xl);
  const cats = Object.values(curves.categories || {});
  const drawn = [];
  (PALETTE.curves || []).forEach(({ label, iou, colour }) => {
    const t = iou === null ? null : curves.iou_thresholds.findIndex((v) => Math.abs(v - iou) < 1e-9);
    if (t === -1 || !cats.length) return;
    const points = curves.recall.map((r, i) => {
      const rows = t === null ? cats.flatMap((c) => c.precision.map((p) => p[i])) : cats.map((c) => c.precision[t][i]);
      const valid = rows.filter((p) => p > -1);
      return valid.length ? `${x(r)},${y(valid.reduce((a, b) => a + b, 0) / valid.length)}` : null;
    }).filter(Boolean);
    chart.append(svg("polyline", { points: points.join(" "), fill: "none", stroke: colour, "stroke-width": 2, "data-iou": iou === null ? "mean" : iou }));
    drawn.push(el("div", { class: "class-row", "data-curve": iou === null ? "mean" : iou },
      el("span", { class: "swatch", style: `background:${colour}` }), el("span", { class: "name" }, label)));
  });
  return el("div", {}, chart, el("div", { class: "classes curve-legend", id: "pr-legend" }, drawn));
}

async function evaluationPage() {
  const projectHash = BODY.projectHash;
  const params = new URLSearchParams(location.search);
  const project = await api(`/api/projects/${projectHash}`);
  const grid = `${BASE}/projects/${projectHash}?branch=${encodeURIComponent(params.get("branch") || "main")}&compare=${encodeURIComponent(params.get("compare") || "")}`;
  crumbs({ text: "Projects", href: `${BASE}/` }, { text: project.title, href: `${BASE}/projects/${projectHash}` }, { text: "Evaluation" });
  document.title = `Evaluation · ${project.title} · labelport`;
  const ev = await api(`/api/projects/${projectHash}/evaluation?${params}`);
  const stats = el("table", { class: "table", id: "stats" }, el("tbody", {}, ev.stat_names.map((name, i) => el("tr", { "data-stat": name },
    el("th", {}, name), el("td", { class: "num", "data-value": ev.stats[i] }, fmt(ev.stats[i])), el("td", { class: "kbd" }, ev.summary[i] || "")))));
  const cols = ["AP", "AP50", "AP75", "AR100", "ground_truth", "predictions", "tp", "fp", "fn"];
  const HEADS = { ground_truth: "ground truth", tp: "TP", fp: "FP", fn: "FN" };  // the CLI's table heads
  const table = el("table", { class: "table", id: "per-category" },
    el("thead", {}, el("tr", {}, el("th", {}, "class"), cols.map((c) => el("th", {}, HEADS[c] || c)))),
    el("tbody", {}, ev.per_category.map((row) => el("tr", { "data-category": row.category }, el("td", {}, row.category),
      cols.map((c) => el("td", { class: "num" }, c.startsWith("A") ? fmt(row[c]) : String(row[c])))))));
  fill(document.getElementById("main"), el("div", { class: "evaluation" },
    el("h2", {}, `${ev.pred_branch} against ${ev.gt_branch}`), el("p", { class: "kbd" }, `${ev.iou_type} · stored evaluation ${ev.evaluation_id}`),
    el("p", {}, el("a", { class: "linkish", href: `${grid}&errors=fp`, id: "to-fp" }, "False positives, worst first →"), " ",
      el("a", { class: "linkish", href: `${grid}&errors=fn`, id: "to-fn" }, "False negatives, worst first →")),
    el("div", { class: "eval-top" }, el("section", {}, el("h3", {}, "Summary (COCOeval)"), stats),
      el("section", {}, el("h3", {}, "Precision / recall (mean over classes)"), curvesSvg(ev.pr_curves))),
    el("h3", {}, "Per class"), table));
}

// -- start ----------------------------------------------------------------------------------------

const PAGES = { projects: projectsPage, grid: gridPage, unit: unitPage, evaluation: evaluationPage };
if (BASE === "/ui" && BODY.page !== "error") {  // the team server's viewer: a session to end
  document.getElementById("me").after(el("form", { method: "post", action: `${BASE}/logout` }, el("button", { class: "btn", type: "submit" }, "Sign out")));
}
(async () => {
  if (BODY.page === "error") {
    showError({ status: BODY.status, message: BODY.message });
    document.body.dataset.ready = "error";
    return;
  }
  try {
    await PAGES[BODY.page]();
    document.body.dataset.ready = BODY.page;
  } catch (error) {
    showError(error);
    document.body.dataset.ready = "error";
  }
})();
