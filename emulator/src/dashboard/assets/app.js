// The conveyor dashboard: one page, hash routes, plain DOM. It polls /api/cursor once a second
// and reloads the view on screen only when the emulator's event log moved.
"use strict";

const view = document.getElementById("view");
const live = document.getElementById("live");
let lastCursor = null;
let busy = false; // an editor is open: do not redraw under the user's hands

function h(tag, attrs, ...children) {
  const ns = tag.startsWith("svg:") ? "http://www.w3.org/2000/svg" : null;
  const el = ns ? document.createElementNS(ns, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(method, url, body) {
  const init = { method, headers: {} };
  // The emulator takes a state change only as JSON (a cross-site form cannot send that), even
  // one without a body.
  if (method !== "GET") init.headers["content-type"] = "application/json";
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const res = await fetch(url, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  if (!res.ok) throw new Error((data && data.error) || res.status + " " + text);
  return data;
}

const status = (s) => h("span", { class: "status " + (s || "") }, (s || "-").replace("_", " "));
const ms = (v) => (v === null || v === undefined ? "-" : v < 10 ? v.toFixed(2) + " ms" : Math.round(v) + " ms");
const time = (t) => (t ? new Date(t).toLocaleTimeString() : "-");
const link = (href, text, attrs) => h("a", Object.assign({ href }, attrs || {}), text);
const enc = encodeURIComponent;

// ---- Functions -------------------------------------------------------------------------------
async function functionsView() {
  const list = await api("GET", "/api/functions");
  return [
    h("h2", {}, "Functions (" + list.length + ")"),
    h("table", { id: "functions" },
      h("thead", {}, h("tr", {}, ["Function", "Trigger", "Next fire", "Last outcome", "Handled", "Retried",
        "Dead-lettered", "Runs", "p50", "p95", "Queued", "DLQ"].map((c) => h("th", {}, c)))),
      h("tbody", {}, list.map((f) => h("tr", { "data-function": f.name },
        h("td", {}, h("b", {}, f.name), h("div", { class: "muted" }, f.service)),
        h("td", {}, f.trigger === "schedule" ? h("code", {}, f.schedule) :
          f.topics.map((t) => h("div", {}, link("#/events?topic=" + enc(t), t)))),
        h("td", {}, f.next ? time(f.next) : "-"),
        h("td", {}, status(f.totals.last_outcome), f.totals.last_error ? h("div", { class: "error" }, f.totals.last_error) : null),
        h("td", { class: "num" }, f.totals.handled + f.totals.duplicates),
        h("td", { class: "num" }, f.totals.retried),
        h("td", { class: "num" }, f.totals.dead_lettered),
        h("td", { class: "num" }, f.totals.runs),
        h("td", { class: "num" }, ms(f.totals.p50_ms)),
        h("td", { class: "num" }, ms(f.totals.p95_ms)),
        h("td", { class: "num" }, f.queued),
        h("td", { class: "num" }, f.dead_letters ? link("#/dlq?function=" + enc(f.name), String(f.dead_letters)) : "0"),
      )))),
  ];
}

// ---- Events ----------------------------------------------------------------------------------
const FILTERS = [["topic", "topic"], ["function", "function"], ["status", "status"], ["order_id", "order id"], ["correlation_id", "correlation id"]];

async function eventsView(params) {
  const query = new URLSearchParams();
  for (const [k] of FILTERS) if (params.get(k)) query.set(k, params.get(k));
  query.set("limit", "200");
  const data = await api("GET", "/api/events?" + query);
  const form = h("form", { class: "filters", id: "filters", onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k] of FILTERS) { const v = form.elements[k].value.trim(); if (v) q.set(k, v); }
    location.hash = "#/events?" + q;
  } },
  FILTERS.map(([k, label]) => k === "status"
    ? h("select", { name: k, id: "f-" + k }, ["", "handled", "pending", "retrying", "dead_lettered", "unrouted"]
      .map((s) => h("option", { value: s, selected: params.get(k) === s }, s || "any status")))
    : h("input", { name: k, id: "f-" + k, placeholder: label, value: params.get(k) || "" })),
  h("button", { type: "submit" }, "Filter"),
  link("#/events", "clear"));
  return [
    h("h2", {}, "Events"),
    form,
    h("table", { id: "events" },
      h("thead", {}, h("tr", {}, ["Time", "Topic", "Status", "Deliveries", "Order", "Correlation", "Id"].map((c) => h("th", {}, c)))),
      h("tbody", {}, data.events.map((e) => h("tr", { "data-event": e.id, "data-status": e.status },
        h("td", {}, time(e.at)),
        h("td", {}, e.topic),
        h("td", {}, status(e.status)),
        h("td", {}, e.deliveries.map((d) => h("div", {}, status(d.status), " ", d.function, d.attempts > 1 ? " x" + d.attempts : ""))),
        h("td", {}, e.order_id || "-"),
        h("td", {}, e.correlation_id ? link("#/flow/" + enc(e.correlation_id), e.correlation_id.slice(0, 13)) : "-"),
        h("td", {}, link("#/events/" + enc(e.id), e.id.slice(0, 13), { class: "event-link" })),
      )))),
    data.events.length ? null : h("p", { class: "muted" }, "No events yet."),
  ];
}

// ---- Stored events (the event store) -----------------------------------------------------------
const STORE_FILTERS = [["topic", "topic"], ["from", "from (RFC 3339)"], ["to", "to (RFC 3339)"], ["order_id", "order id"], ["correlation_id", "correlation id"]];

async function storedView(params) {
  const query = new URLSearchParams();
  for (const [k] of STORE_FILTERS) if (params.get(k)) query.set(k, params.get(k));
  if (params.get("after")) query.set("after", params.get("after"));
  query.set("order", "desc");
  query.set("limit", "100");
  const data = await api("GET", "/api/store/events?" + query);
  const form = h("form", { class: "filters", id: "store-filters", onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k] of STORE_FILTERS) { const v = form.elements[k].value.trim(); if (v) q.set(k, v); }
    location.hash = "#/stored?" + q;
  } },
  STORE_FILTERS.map(([k, label]) => h("input", { name: k, id: "s-" + k, placeholder: label, value: params.get(k) || "" })),
  h("button", { type: "submit" }, "Search"),
  link("#/stored", "clear"));
  const next = new URLSearchParams(params);
  if (data.next) next.set("after", data.next);
  return [
    h("h2", {}, "Stored events"),
    data.enabled ? null : h("p", { class: "muted", id: "store-off" }, "The event store is off (--event-store false): nothing new is stored."),
    form,
    h("table", { id: "stored" },
      h("thead", {}, h("tr", {}, ["Time", "Topic", "Order", "Correlation", "Caused by", "Source", "Id"].map((c) => h("th", {}, c)))),
      h("tbody", {}, data.events.map((e) => h("tr", { "data-stored": e.id },
        h("td", {}, new Date(e.time).toLocaleString()),
        h("td", {}, e.topic),
        h("td", {}, e.order_id ? link("#/stored?order_id=" + enc(e.order_id), e.order_id) : "-"),
        h("td", {}, e.correlation_id ? link("#/stored?correlation_id=" + enc(e.correlation_id), e.correlation_id.slice(0, 13)) : "-"),
        h("td", {}, e.causation_id ? e.causation_id.slice(0, 13) : "-"),
        h("td", {}, e.source),
        h("td", {}, h("details", {}, h("summary", {}, e.id.slice(0, 13)), h("pre", {}, JSON.stringify(e.event, null, 2)))),
      )))),
    data.events.length ? null : h("p", { class: "muted" }, "No stored events match."),
    data.next ? link("#/stored?" + next, "older events", { id: "store-next" }) : null,
  ];
}

async function eventView(id) {
  const d = await api("GET", "/api/events/" + enc(id));
  const s = d.summary;
  return [
    h("h2", {}, "Event ", h("code", {}, id)),
    h("div", { id: "event-detail", class: "grid" },
      h("div", {},
        s ? h("p", {}, status(s.status), " ", h("b", {}, s.topic), " published ", time(s.at),
          s.correlation_id ? [" · flow ", link("#/flow/" + enc(s.correlation_id), s.correlation_id, { id: "flow-link" })] : null) : null,
        d.caused_by ? h("p", { id: "caused-by" }, "caused by ", d.caused_by.function ? [d.caused_by.function, " handling "] : null,
          link("#/events/" + enc(d.caused_by.event_id), d.caused_by.event_id)) : null,
        h("h3", {}, "Delivery attempts"),
        h("table", { id: "attempts" },
          h("thead", {}, h("tr", {}, ["Function", "#", "Outcome", "Duration", "At", "Error"].map((c) => h("th", {}, c)))),
          h("tbody", {}, d.attempts.map((a) => h("tr", {},
            h("td", {}, a.function), h("td", { class: "num" }, a.attempt), h("td", {}, status(a.outcome)),
            h("td", { class: "num" }, ms(a.duration_ms)), h("td", {}, time(a.at)),
            h("td", { class: "error" }, a.error || ""))))),
        h("h3", {}, "Events it caused"),
        d.caused.length ? h("ul", { id: "caused" }, d.caused.map((c) => h("li", {}, link("#/events/" + enc(c.id), c.topic || c.id), c.by ? [" by ", c.by] : null)))
          : h("p", { class: "muted" }, "none")),
      h("div", {}, h("h3", {}, "CloudEvent"), h("pre", {}, JSON.stringify(d.cloudevent, null, 2)))),
  ];
}

// ---- Flow ------------------------------------------------------------------------------------
function layoutFlow(flow) {
  // A tree: event -> its handlers -> the events each produced -> ... An event whose cause is
  // known by its causationid only (no attempt in the log names the function) hangs off the
  // causing event itself.
  const byParent = new Map();
  const roots = [];
  const ids = new Set(flow.events.map((e) => e.id));
  for (const e of flow.events) {
    if (e.parent && ids.has(e.parent.event_id)) {
      const key = e.parent.event_id + "|" + (e.parent.function || "");
      if (!byParent.has(key)) byParent.set(key, []);
      byParent.get(key).push(e);
    } else roots.push(e);
  }
  const nodes = [], edges = [];
  let row = 0;
  function placeEvent(e, depth) {
    const handlerNodes = e.handlers.map((hd) => {
      const kids = (byParent.get(e.id + "|" + hd.function) || []).map((k) => placeEvent(k, depth + 2));
      const node = { kind: "handler", depth: depth + 1, row: kids.length ? kids[0].row : row++, data: hd, kids };
      nodes.push(node);
      for (const k of kids) edges.push([node, k]);
      return node;
    });
    const direct = (byParent.get(e.id + "|") || []).map((k) => placeEvent(k, depth + 2));
    const first = handlerNodes[0] || direct[0];
    const node = { kind: "event", depth, row: first ? first.row : row++, data: e };
    nodes.push(node);
    for (const hn of handlerNodes) edges.push([node, hn]);
    for (const k of direct) edges.push([node, k]);
    return node;
  }
  for (const r of roots) placeEvent(r, 0);
  return { nodes, edges, rows: row };
}

function flowSvg(flow) {
  const W = 230, H = 54, GX = 40, GY = 16;
  const { nodes, edges, rows } = layoutFlow(flow);
  const depth = Math.max(0, ...nodes.map((n) => n.depth)) + 1;
  const x = (n) => 10 + n.depth * (W + GX), y = (n) => 10 + n.row * (H + GY);
  const svg = h("svg:svg", { id: "flow", width: 20 + depth * (W + GX), height: 20 + Math.max(1, rows) * (H + GY),
    "data-handlers": nodes.filter((n) => n.kind === "handler").length });
  for (const [a, b] of edges) {
    const x1 = x(a) + W, y1 = y(a) + H / 2, x2 = x(b), y2 = y(b) + H / 2, mx = (x1 + x2) / 2;
    svg.append(h("svg:path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
  }
  for (const n of nodes) {
    const d = n.data;
    const cls = n.kind === "event" ? "node event" : "node handler " + d.status;
    const g = h("svg:g", { class: cls, transform: `translate(${x(n)},${y(n)})`,
      "data-topic": n.kind === "event" ? d.topic : null, "data-function": n.kind === "handler" ? d.function : null,
      "data-status": n.kind === "handler" ? d.status : null });
    g.append(h("svg:rect", { width: W, height: H, rx: 6 }));
    if (n.kind === "event") {
      g.append(h("svg:text", { x: 8, y: 18 }, d.topic));
      g.append(h("svg:text", { x: 8, y: 36, class: "small" }, "+" + d.offset_ms + " ms · " + d.id.slice(0, 18)));
      g.addEventListener("click", () => { location.hash = "#/events/" + enc(d.id); });
    } else {
      g.append(h("svg:text", { x: 8, y: 18 }, d.function));
      g.append(h("svg:text", { x: 8, y: 34, class: "small" },
        d.status.replace("_", " ") + " · " + d.attempts + " attempt" + (d.attempts === 1 ? "" : "s") + " · " + ms(d.duration_ms)));
      g.append(h("svg:text", { x: 8, y: 48, class: "small" }, d.offset_ms === null ? "" : "done at +" + d.offset_ms + " ms"));
      if (d.error) g.append(h("svg:title", {}, d.error));
    }
    svg.append(g);
  }
  return svg;
}

async function flowView(cid) {
  const flow = await api("GET", "/api/flows/" + enc(cid));
  return [
    h("h2", {}, "Flow ", h("code", {}, cid)),
    h("p", { class: "muted" }, flow.events.length + " events since " + time(flow.started_at) + "; click an event for its detail."),
    flowSvg(flow),
  ];
}

// ---- Dead letters ----------------------------------------------------------------------------
async function dlqView(params) {
  const only = params.get("function");
  const letters = await api("GET", only ? "/dlq/" + enc(only) : "/dlq");
  const byFn = new Map();
  for (const l of letters) { if (!byFn.has(l.function)) byFn.set(l.function, []); byFn.get(l.function).push(l); }
  const out = [h("h2", {}, "Dead letters (" + letters.length + ")")];
  if (!letters.length) out.push(h("p", { class: "muted", id: "dlq-empty" }, "No dead letters."));
  for (const [fn, list] of byFn) {
    out.push(h("h3", {}, fn, " ",
      h("button", { class: "redrive-all", "data-function": fn, onclick: () => act(() => api("POST", "/dlq/" + enc(fn) + "/redrive")) }, "Redrive all"), " ",
      h("button", { class: "delete-all", "data-function": fn, onclick: () => confirm("Delete every dead letter of " + fn + "?") && act(() => api("DELETE", "/dlq/" + enc(fn) + "/all")) }, "Delete all")));
    out.push(h("table", { class: "dlq", "data-function": fn },
      h("thead", {}, h("tr", {}, ["Failed", "Topic", "Event", "Attempts", "Reason", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, list.map((l) => letterRow(fn, l)))));
  }
  return out;
}

function letterRow(fn, l) {
  const editor = h("td", { colspan: 6, class: "editor", hidden: true },
    h("textarea", { class: "payload" }, prettyBody(l.body)),
    h("button", { class: "save", onclick: () => act(() => api("PUT", "/dlq/" + enc(fn) + "/" + enc(l.id), editor.querySelector("textarea").value)) }, "Save"), " ",
    h("button", { onclick: () => { editor.hidden = true; busy = false; } }, "Cancel"));
  return [
    h("tr", { "data-letter": l.id, "data-event": l.event_id },
      h("td", {}, time(l.failed_at)), h("td", {}, l.topic),
      h("td", {}, l.event_id ? link("#/events/" + enc(l.event_id), l.event_id.slice(0, 13)) : "-"),
      h("td", { class: "num" }, l.attempts), h("td", { class: "error" }, l.error),
      h("td", {},
        h("button", { class: "redrive", onclick: () => act(() => api("POST", "/dlq/" + enc(fn) + "/redrive", { ids: [l.id] })) }, "Redrive"), " ",
        h("button", { class: "edit", onclick: () => { editor.hidden = false; busy = true; } }, "Edit"), " ",
        h("button", { class: "delete", onclick: () => act(() => api("DELETE", "/dlq/" + enc(fn) + "/" + enc(l.id))) }, "Delete"))),
    h("tr", {}, editor),
  ];
}

function prettyBody(body) {
  try { return JSON.stringify(JSON.parse(body), null, 2); } catch (_) { return body; }
}

async function act(work) {
  try { await work(); busy = false; await render(); } catch (e) { alert(e.message); }
}

// ---- Schedules -------------------------------------------------------------------------------
async function schedulesView() {
  const jobs = await api("GET", "/api/schedules");
  return [
    h("h2", {}, "Schedules (" + jobs.length + ")"),
    h("table", { id: "schedules" },
      h("thead", {}, h("tr", {}, ["Job", "Cron (UTC)", "Next runs", "Recent runs", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, jobs.map((j) => h("tr", { "data-job": j.name, "data-runs": j.runs.length },
        h("td", {}, h("b", {}, j.name), h("div", { class: "muted" }, j.service)),
        h("td", {}, h("code", {}, j.cron)),
        h("td", {}, j.next.map((t) => h("div", {}, new Date(t).toLocaleString()))),
        h("td", { class: "runs" }, j.runs.length ? j.runs.slice(0, 5).map((r) => h("div", {}, status(r.outcome), " ", time(r.at), " · ", ms(r.duration_ms),
          r.error ? h("span", { class: "error" }, " " + r.error) : "")) : h("span", { class: "muted" }, "no runs yet")),
        h("td", {}, h("button", { class: "run-now", onclick: () => act(() => api("POST", "/invoke/" + enc(j.name))) }, "Run now")),
      )))),
  ];
}

// ---- Send ------------------------------------------------------------------------------------
async function sendView(params) {
  busy = true;
  const topics = await api("GET", "/api/topics");
  const select = h("select", { id: "topic" }, topics.map((t) => h("option", { value: t.topic, selected: params.get("topic") === t.topic }, t.topic)));
  const payload = h("textarea", { id: "payload", spellcheck: "false" });
  const result = h("div", { id: "send-result" });
  const subs = h("p", { class: "muted", id: "subscribers" });
  const schema = h("pre", { id: "schema" });
  async function load() {
    const t = await api("GET", "/api/topics/" + enc(select.value));
    payload.value = JSON.stringify(t.sample, null, 2);
    subs.textContent = t.payload + " · subscribers: " + (t.subscribers.join(", ") || "none in this emulator");
    schema.textContent = JSON.stringify(t.schema, null, 2);
    result.replaceChildren();
  }
  async function validate() {
    const v = await api("POST", "/api/topics/" + enc(select.value) + "/validate", payload.value);
    result.replaceChildren(v.valid ? h("p", { class: "valid" }, "Valid against the schema.")
      : h("ul", { class: "error invalid" }, v.errors.map((e) => h("li", {}, e))));
    return v.valid;
  }
  async function send() {
    try {
      if (!(await validate())) return;
      const r = await api("POST", "/publish/" + enc(select.value), payload.value);
      result.replaceChildren(h("p", { class: "sent" }, "Sent ", link("#/events/" + enc(r.id), r.id, { class: "event-link" }),
        " to ", String(r.subscribers.length), " subscriber(s) · ", link("#/flow/" + enc(r.id), "see its flow", { class: "flow-link" })));
    } catch (e) { result.replaceChildren(h("p", { class: "error" }, e.message)); }
  }
  select.addEventListener("change", load);
  await load();
  return [
    h("h2", {}, "Send an event"),
    h("div", { class: "grid" },
      h("div", {}, h("p", {}, select, " ", h("button", { id: "validate", onclick: validate }, "Validate"), " ",
        h("button", { id: "send", onclick: send }, "Send")), subs, payload, result),
      h("div", {}, h("h3", {}, "Schema"), schema)),
  ];
}

// ---- Routing and live updates ----------------------------------------------------------------
function route() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const parts = (path || "/functions").split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query || "") };
}

async function render() {
  const { parts, params } = route();
  const [page, arg] = parts;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.nav === page || (page === "flow" && a.dataset.nav === "events"));
  busy = false;
  try {
    let content;
    if (page === "events" && arg) content = await eventView(arg);
    else if (page === "events") content = await eventsView(params);
    else if (page === "flow" && arg) content = await flowView(arg);
    else if (page === "stored") content = await storedView(params);
    else if (page === "dlq") content = await dlqView(params);
    else if (page === "sagas" && arg) content = await sagaView(arg);
    else if (page === "sagas") content = await sagasView(params);
    else if (page === "schedules") content = await schedulesView();
    else if (page === "send") content = await sendView(params);
    else content = await functionsView();
    // A view leaves out what does not apply as null; replaceChildren would print it as text.
    view.replaceChildren(...[content].flat().filter((c) => c !== null && c !== undefined && c !== false));
    view.dataset.page = page || "functions";
  } catch (e) {
    view.replaceChildren(h("p", { class: "error", id: "view-error" }, e.message));
  }
}

async function poll() {
  try {
    const c = await api("GET", "/api/cursor");
    live.classList.add("on");
    const key = c.events + "/" + c.attempts;
    if (lastCursor !== null && key !== lastCursor && !busy) await render();
    lastCursor = key;
  } catch (_) {
    live.classList.remove("on");
  }
  setTimeout(poll, 1000);
}

window.addEventListener("hashchange", render);
render().then(poll);
