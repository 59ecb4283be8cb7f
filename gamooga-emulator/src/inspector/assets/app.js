// The emulator's inspector. Plain JavaScript, no dependency, no network beyond this server.
// Every text that comes from a call is put in the page with textContent, never as HTML.
"use strict";

const MAX_ROWS = 1000;                       // rows the page keeps; older ones are left out
const FILTER_KEYS = ["endpoint", "company", "event", "id", "status", "q"];
const $ = (id) => document.getElementById(id);

const state = {
  source: null,
  rows: [],        // newest first: the rows the page keeps, and gaps ({gap: n})
  shown: 0,        // call rows in `rows`
  rowHeight: 27,   // px, as the stylesheet sets it (measured once rows show)
  measured: false,
  scrollShift: 0,  // rows that arrived above while the reader was scrolled down
  matched: 0,      // matching calls the stream stood for since the page (re)started
  selected: null,  // seq of the call shown in the detail
  faults: null,
};

// ---------- small helpers ----------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
const fmtInt = (n) => Number(n).toLocaleString("en-US");
function fmtTime(ms) {
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
const fmtDate = (ms) => (ms ? new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC") : "–");
async function api(path, options) {
  const res = await fetch(path, options);
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
  if (!res.ok) throw new Error((body && body.error) || `${res.status} ${text}`);
  return body;
}
const postJson = (path, value) =>
  api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(value) });

// ---------- filters, kept in the page's address ----------
function filtersFromAddress() {
  const params = new URLSearchParams(location.search);
  for (const k of FILTER_KEYS) $("f-" + k).value = params.get(k) || "";
}
function filterParams() {
  const params = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    const v = $("f-" + k).value.trim();
    if (v) params.set(k, v);
  }
  return params;
}
function filtersChanged() {
  const q = filterParams().toString();
  history.replaceState(null, "", location.pathname + (q ? "?" + q : "") + location.hash);
  connect();
}
let typing = null;
for (const k of FILTER_KEYS) {
  const input = $("f-" + k);
  input.addEventListener(input.tagName === "SELECT" ? "change" : "input", () => {
    clearTimeout(typing);
    typing = setTimeout(filtersChanged, input.tagName === "SELECT" ? 0 : 250);
  });
}
$("f-clear").addEventListener("click", () => {
  for (const k of FILTER_KEYS) $("f-" + k).value = "";
  filtersChanged();
});

// ---------- the live stream ----------
function connect() {
  if (state.source) state.source.close();
  const q = filterParams().toString();
  const source = new EventSource("stream" + (q ? "?" + q : ""));
  state.source = source;
  source.onopen = () => { $("conn").textContent = "live"; $("conn").className = "conn live"; };
  source.onerror = () => { $("conn").textContent = "reconnecting…"; $("conn").className = "conn lost"; };
  source.onmessage = (e) => apply(JSON.parse(e.data));
}

// The table is virtual: the page keeps up to MAX_ROWS rows (and the gaps between them) in
// `state.rows`, and puts in the document only the rows in view, plus a margin, between two
// spacers. Rows have one fixed height (the stylesheet keeps each on one line). A burst of
// calls then costs the page a few dozen rows of layout per frame, not a thousand-row table:
// with the page open, the emulator keeps its rate (benches/inspector_load.rs).
function apply(msg) {
  if (msg.replace) {
    state.rows = [];
    state.shown = 0;
    state.matched = 0;
    state.scrollShift = 0;
    $("calls-wrap").scrollTop = 0;
  }
  state.matched += msg.matched;
  if (msg.rows.length) {
    const added = msg.rows.slice();                              // newest first
    // More calls matched than one message carries (a burst): say where they were left out.
    const skipped = msg.matched - msg.rows.length;
    if (skipped > 0 && !msg.replace && state.rows.length) added.push({ gap: skipped });
    state.rows = added.concat(state.rows);
    state.shown += msg.rows.length;
    while (state.rows.length && (state.shown > MAX_ROWS || state.rows[state.rows.length - 1].gap)) {
      if (!state.rows.pop().gap) state.shown--;
    }
    // Scrolled down to read older calls: keep them in place while newer ones arrive above
    // (the next render scrolls down by as many rows, once the table is that much taller).
    if ($("calls-wrap").scrollTop > 0) state.scrollShift += added.length;
    scheduleRender();
  }
  const leftOut = state.matched - state.shown;
  const filtered = filterParams().toString() !== "";
  let text = `Showing the newest ${fmtInt(state.shown)} of ${fmtInt(state.matched)} ${filtered ? "matching " : ""}calls`;
  if (leftOut > 0) text += ` · ${fmtInt(leftOut)} left out`;
  if (msg.total > msg.kept) text += ` · ${fmtInt(msg.total - msg.kept)} calls beyond the recording bound (${fmtInt(msg.max_recorded)}) are not kept`;
  if (!state.matched) text = filtered ? "No call matches the filters yet." : "Waiting for calls…";
  $("shown").textContent = text;
  $("t-total").textContent = fmtInt(msg.total);
  $("t-accepted").textContent = fmtInt(msg.accepted);
  $("t-rejected").textContent = fmtInt(msg.rejected);
  $("t-faulted").textContent = fmtInt(msg.faulted);
  $("t-violations").textContent = fmtInt(msg.plan_violations);
  showFaults(msg.faults);
}

// One render per frame at most, however many messages arrived.
let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => { renderPending = false; render(); });
}

const OVERSCAN = 10;                          // rows put in the document beyond the view
function spacer(rows) {
  const td = el("td", { colspan: 8 });
  td.style.height = rows * state.rowHeight + "px";
  return el("tr", { class: "spacer", "aria-hidden": "true" }, td);
}
function render() {
  const wrap = $("calls-wrap");
  const rows = state.rows;
  const top = wrap.scrollTop + state.scrollShift * state.rowHeight;
  const first = Math.max(0, Math.floor(top / state.rowHeight) - OVERSCAN);
  const end = Math.min(rows.length, Math.ceil((top + wrap.clientHeight) / state.rowHeight) + OVERSCAN);
  const frag = document.createDocumentFragment();
  if (first > 0) frag.append(spacer(first));
  for (let i = first; i < end; i++) {
    const r = rows[i];
    // A row's element is made once and kept with it, so scrolling reuses it.
    if (!r.tr) r.tr = r.gap ? renderGap(r.gap) : renderRow(r);
    if (!r.gap) r.tr.classList.toggle("selected", r.seq === state.selected);
    frag.append(r.tr);
  }
  if (end < rows.length) frag.append(spacer(rows.length - end));
  $("calls-body").replaceChildren(frag);
  if (state.scrollShift) { state.scrollShift = 0; wrap.scrollTop = top; }
  // The stylesheet sets the height; measure it once so spacers match what the browser drew.
  if (!state.measured && end > first && !rows[first].gap) {
    const h = rows[first].tr.getBoundingClientRect().height;
    if (h > 0) { state.measured = true; if (Math.abs(h - state.rowHeight) > 0.01) { state.rowHeight = h; render(); } }
  }
}
$("calls-wrap").addEventListener("scroll", scheduleRender, { passive: true });
window.addEventListener("resize", scheduleRender);
$("calls-body").addEventListener("click", (e) => {
  const tr = e.target.closest("tr[data-seq]");
  if (tr) showDetail(Number(tr.dataset.seq), tr);
});

function renderGap(n) {
  return el("tr", { class: "gap" }, el("td", { colspan: 8 },
    `⋯ ${fmtInt(n)} calls arrived here too fast to show (a burst); filter to see fewer`));
}

function renderRow(r) {
  const cls = [r.rejection ? "rejected" : "", r.fault ? "faulted" : "", r.violations.length ? "violating" : ""]
    .filter(Boolean).join(" ");
  const who = r.user_id ? "u=" + r.user_id : r.visitor_id ? "v=" + r.visitor_id : "";
  const statusClass = r.status === 200 ? "s200" : r.status === 0 ? "s0" : r.status < 500 ? "s4xx" : "s5xx";
  const status = el("td", { class: "status " + statusClass },
    r.status === 0 ? "no answer" : String(r.status),
    r.violations.length ? el("span", { class: "badge plan", title: "tracking plan violations" }, "plan " + r.violations.length) : null);
  // One line: the reason, the fault and the violations first, then the properties; the
  // whole text is the cell's tooltip, and the detail shows it all.
  const parts = [
    r.rejection ? el("span", { class: "reason" }, r.rejection) : null,
    r.fault ? el("span", { class: "fault" }, "fault: " + r.fault) : null,
    r.violations.length ? el("span", { class: "violations" }, "plan: " + r.violations.join("; ")) : null,
    r.properties ? el("span", { class: "props" }, r.properties) : null,
  ].filter(Boolean);
  const details = el("td", { class: "details", title: parts.map((p) => p.textContent).join("\n") }, ...parts);
  const open = el("button", { type: "button", "aria-label": `Show call ${r.seq} in detail` }, String(r.seq));
  return el("tr", { class: cls, "data-seq": r.seq, "data-status": r.status },
    el("td", { class: "seq" }, open),
    el("td", { class: "when", title: fmtDate(r.received_ms) }, fmtTime(r.received_ms)),
    status,
    el("td", {}, r.endpoint),
    el("td", {}, r.company || ""),
    el("td", { class: "who" }, who),
    el("td", { class: "event" }, r.event || ""),
    details);
}

// ---------- detail ----------
function kvTable(rows, headers) {
  const table = el("table", { class: "kv" });
  if (headers) table.append(el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))));
  const tbody = el("tbody");
  for (const cells of rows) tbody.append(el("tr", {}, ...cells.map((c, i) => (i === 0 && !headers ? el("th", { scope: "row" }, c) : el("td", {}, c)))));
  table.append(tbody);
  return table;
}
const datatypeName = { s: "s (string)", n: "n (number)", b: "b (boolean)" };
const propsTable = (props) =>
  props.length ? kvTable(props.map((p) => [p.name, p.value, datatypeName[p.datatype] || p.datatype]), ["name", "value", "datatype"])
               : el("p", { class: "hint" }, "none");

function rawQuery(call) {
  const pre = el("pre", { class: "raw" });
  const url = `${call.method} ${call.path}`;
  pre.append(url + (call.raw_query ? "?" : ""));
  const range = call.offending_range;
  if (range && range.end <= call.raw_query.length) {
    pre.append(call.raw_query.slice(0, range.start),
      el("mark", { title: "the parameter the rejection is about" }, call.raw_query.slice(range.start, range.end)),
      call.raw_query.slice(range.end));
  } else {
    pre.append(call.raw_query);
  }
  return pre;
}

async function showDetail(seq, tr) {
  state.selected = seq;
  for (const row of document.querySelectorAll("#calls-body tr.selected")) row.classList.remove("selected");
  if (tr) tr.classList.add("selected");
  const aside = $("detail");
  const out = $("d-body");
  aside.hidden = false;
  $("d-title").textContent = `Call #${seq}`;
  out.textContent = "Loading…";
  let detail;
  try { detail = await api("calls/" + seq); } catch (e) { out.textContent = String(e.message); return; }
  const c = detail.call;
  $("d-title").textContent = `Call #${c.seq} · ${c.endpoint} → ${c.status === 0 ? "no answer" : c.status}`;
  out.textContent = "";
  if (c.rejection) out.append(el("p", { class: "why" }, "Rejected: " + c.rejection));
  if (c.fault) out.append(el("p", { class: "fault" }, "Injected fault: " + c.fault));
  if (c.plan_violations.length) {
    out.append(el("h3", {}, "Tracking plan violations"));
    const ul = el("ul", { class: "violations" });
    for (const v of c.plan_violations) ul.append(el("li", {}, describeViolation(v)));
    out.append(ul);
  }
  out.append(el("h3", {}, "Request"), rawQuery(c));
  out.append(el("h3", {}, "Headers"), kvTable(c.headers.map(([n, v]) => [n, v])));
  if (c.body !== null) out.append(el("h3", {}, "Body"), el("pre", {}, c.body));
  const facts = [["received", fmtDate(c.received_ms)]];
  if (c.company) facts.push(["company", c.company]);
  if (c.user_id) facts.push(["user id", c.user_id]);
  if (c.visitor_id) facts.push(["visitor id", c.visitor_id + (c.user_id ? " (resolved)" : "")]);
  if (c.event) facts.push(["event", c.event]);
  if (c.tm !== null) {
    const lag = c.received_ms - c.tm;
    const says = lag >= 0 ? `${fmtInt(lag)} ms before arrival` : `${fmtInt(-lag)} ms after arrival (clock ahead?)`;
    facts.push(["tm", `${fmtDate(c.tm)} (${c.tm}) · ${says}`]);
  } else if (/^(evwid|evwidj|ev|evvprwid)$/.test(c.endpoint)) {
    facts.push(["tm", "not sent (Gamooga stamps the arrival)"]);
  }
  out.append(el("h3", {}, "Decoded"), kvTable(facts));
  if (c.event_properties.length || c.event) out.append(el("h3", {}, "Event properties"), propsTable(c.event_properties));
  if (c.visitor_properties.length) out.append(el("h3", {}, "Visitor properties sent"), propsTable(c.visitor_properties));
  if (c.visitor_id) {
    out.append(el("h3", {}, "The visitor's properties after this call"));
    out.append(detail.visitor_properties_after === null
      ? el("p", { class: "hint" }, "no longer kept (only the last versions of a visitor are)")
      : propsTable(detail.visitor_properties_after));
  }
  aside.focus();
}

function describeViolation(v) {
  switch (v.kind) {
    case "unplanned_event": return `event '${v.event}' is not in the plan`;
    case "unplanned_property": return `${v.visitor ? "visitor property" : "property"} '${v.property}' is not in the plan`;
    case "wrong_datatype": return `${v.visitor ? "visitor property" : "property"} '${v.property}' is sent as ${v.sent}, planned as ${v.planned}`;
    case "missing_property": return `property '${v.property}' is planned (not optional) but missing`;
    default: return JSON.stringify(v);
  }
}

function closeDetail() {
  $("detail").hidden = true;
  state.selected = null;
  for (const row of document.querySelectorAll("#calls-body tr.selected")) row.classList.remove("selected");
}
$("d-close").addEventListener("click", closeDetail);
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("detail").hidden) closeDetail(); });

// ---------- fault state, always visible ----------
function describeFaults(f) {
  const parts = [];
  if (!f.up) parts.push("API DOWN (connections refused)");
  if (f.fail_next) parts.push(`fail next ${f.fail_next.remaining} with ${f.fail_next.status}` + (f.fail_next.retry_after !== null ? ` (Retry-After ${f.fail_next.retry_after} s)` : ""));
  if (f.delay_next) parts.push(`delay next ${f.delay_next.remaining} by ${f.delay_next.delay_ms} ms`);
  if (f.drop_next) parts.push(`drop next ${f.drop_next}`);
  if (f.failure_rate) parts.push(`fail ${Math.round(f.failure_rate.rate * 100)}% with ${f.failure_rate.status}`);
  if (f.drop_rate) parts.push(`drop ${Math.round(f.drop_rate * 100)}%`);
  if (f.rate_limit) parts.push(`rate limit ${f.rate_limit.per_second}/s (burst ${f.rate_limit.burst})`);
  if (f.latency_ms) parts.push(`latency ${f.latency_ms} ms`);
  if (f.evbk) parts.push(`backend moved to ${f.evbk}`);
  if (f.newnaconf_body !== null) parts.push("newnaconf answers a raw body");
  if (f.fail_newnaconf_next) parts.push(`fail next ${f.fail_newnaconf_next.remaining} newnaconf with ${f.fail_newnaconf_next.status}`);
  return parts;
}
function showFaults(f) {
  if (!f) return;
  state.faults = f;
  const parts = describeFaults(f);
  const bar = $("fault-state");
  bar.textContent = parts.length ? "Faults: " + parts.join(" · ") : "Faults: none";
  bar.className = "faultbar" + (parts.length ? " active" : "") + (f.up ? "" : " down");
}

async function fault(command) {
  try {
    showFaults(await postJson("faults", command));
    $("fault-result").textContent = "Applied.";
  } catch (e) {
    $("fault-result").textContent = "Refused: " + e.message;
  }
}
const num = (id) => { const v = $(id).value.trim(); return v === "" ? null : Number(v); };
$("fail-apply").addEventListener("click", () => fault({ fail_next: { n: num("fail-n") || 0, status: num("fail-status") || 503, retry_after: num("fail-retry") } }));
$("delay-apply").addEventListener("click", () => fault({ delay_next: { n: num("delay-n") || 0, ms: num("delay-ms") || 0 } }));
$("drop-apply").addEventListener("click", () => fault({ drop_next: { n: num("drop-n") || 0 } }));
$("rate-apply").addEventListener("click", () => fault({ failure_rate: { rate: num("rate") || 0, status: num("rate-status") || 503 } }));
$("drop-rate-apply").addEventListener("click", () => fault({ drop_rate: { rate: num("drop-rate") || 0 } }));
$("limit-apply").addEventListener("click", () => fault({ rate_limit: { per_second: num("limit-rate"), burst: num("limit-burst") } }));
$("latency-apply").addEventListener("click", () => fault({ latency: { ms: num("latency-ms") } }));
$("evbk-apply").addEventListener("click", () => fault({ evbk: { evbk: $("evbk").value.trim() || null } }));
$("nc-apply").addEventListener("click", () => fault({ fail_newnaconf_next: { n: num("nc-n") || 0, status: num("nc-status") || 503 } }));
$("go-down").addEventListener("click", () => fault("go_down"));
$("come-up").addEventListener("click", () => fault("come_up"));
$("faults-clear").addEventListener("click", () => fault("clear"));

// ---------- tabs ----------
const TABS = ["calls", "schema", "plan", "faults", "compose"];
function selectTab(name, focus) {
  for (const t of TABS) {
    const on = t === name;
    $("tab-" + t).setAttribute("aria-selected", on ? "true" : "false");
    $("tab-" + t).tabIndex = on ? 0 : -1;
    $("view-" + t).hidden = !on;
  }
  if (focus) $("tab-" + name).focus();
  const hash = name === "calls" ? "" : "#" + name;
  if (location.hash !== hash) history.replaceState(null, "", location.pathname + location.search + hash);
  refreshViews();
}
for (const t of TABS) {
  $("tab-" + t).addEventListener("click", () => selectTab(t));
  $("tab-" + t).addEventListener("keydown", (e) => {
    const i = TABS.indexOf(t);
    if (e.key === "ArrowRight") selectTab(TABS[(i + 1) % TABS.length], true);
    if (e.key === "ArrowLeft") selectTab(TABS[(i + TABS.length - 1) % TABS.length], true);
  });
}
const currentTab = () => TABS.find((t) => $("tab-" + t).getAttribute("aria-selected") === "true");

// ---------- schema and plan views (refreshed while shown) ----------
async function refreshViews() {
  const tab = currentTab();
  try {
    if (tab === "schema") renderSchema(await api("schema"));
    if (tab === "plan") renderPlan(await api("plan"), await api("summary"));
  } catch (_) { /* the next refresh tries again */ }
}
setInterval(refreshViews, 1000);

const plannedCell = (p) => (p === null ? "no plan" : p ? "yes" : el("span", { class: "unplanned" }, "not planned"));
// One property of the schema view: its datatypes seen, drift (two datatypes) and, with a
// plan, whether it is planned and with which datatype.
function propertySpan(p) {
  let text = `${p.name}: ${p.datatypes.split("").join("+")}`;
  let cls = "";
  let title = null;
  if (p.drift) { text += " (drift)"; cls = "drift"; title = "drift: seen with more than one datatype"; }
  if (p.planned === false) { text += " (not planned)"; cls = cls || "unplanned"; }
  else if (p.planned && p.planned_datatypes && [...p.datatypes].some((t) => !p.planned_datatypes.includes(t))) {
    text += ` (planned ${p.planned_datatypes})`; cls = cls || "unplanned";
  }
  return el("span", { class: cls, title }, text);
}
function renderSchema(s) {
  const tbody = document.querySelector("#schema-events tbody");
  tbody.textContent = "";
  for (const e of s.events) {
    const props = el("td");
    e.properties.forEach((p, i) => { if (i) props.append(", "); props.append(propertySpan(p)); });
    tbody.append(el("tr", {}, el("td", {}, e.event), el("td", {}, plannedCell(e.planned)), el("td", {}, fmtInt(e.calls)),
      el("td", {}, fmtInt(e.accepted)), el("td", {}, fmtDate(e.first_seen_ms)), el("td", {}, fmtDate(e.last_seen_ms)), props));
  }
  const vbody = document.querySelector("#schema-visitor tbody");
  vbody.textContent = "";
  for (const p of s.visitor_properties) {
    vbody.append(el("tr", {}, el("td", {}, p.name),
      el("td", { class: p.drift ? "drift" : "" }, p.datatypes.split("").join("+") + (p.drift ? " (drift)" : "")),
      el("td", {}, fmtInt(p.count)),
      el("td", {}, p.planned === null ? "no plan" : p.planned ? "yes, " + p.planned_datatypes : el("span", { class: "unplanned" }, "not planned"))));
  }
}

function renderPlan(plan, summary) {
  $("plan-status").textContent = plan
    ? `A tracking plan is loaded: ${plan.events.length} events, ${plan.visitor_properties.length} visitor property sets. ${fmtInt(summary.plan_violations)} calls violate it.`
    : "No tracking plan loaded.";
  const tbody = document.querySelector("#plan-summary tbody");
  tbody.textContent = "";
  for (const e of summary.events) {
    tbody.append(el("tr", {}, el("td", {}, e.event), el("td", {}, fmtInt(e.calls)), el("td", {}, fmtInt(e.accepted)),
      el("td", {}, fmtInt(e.rejected)), el("td", {}, fmtInt(e.faulted)),
      el("td", { class: e.plan_violations ? "unplanned" : "" }, fmtInt(e.plan_violations))));
  }
  const contents = $("plan-contents");
  contents.textContent = "";
  if (!plan) return;
  for (const set of [...plan.events.map((e) => ["Event", e]), ...plan.visitor_properties.map((v) => ["Visitor properties", v])]) {
    const [kind, s] = set;
    contents.append(el("h3", {}, `${kind} ${s.name}`),
      s.properties.length ? kvTable(s.properties.map((p) => [p.name, datatypeName[p.datatype] || p.datatype, p.optional ? "optional" : "required"]), ["property", "datatype", ""])
                          : el("p", { class: "hint" }, "no properties"));
  }
}
async function loadPlan(text) {
  try { await api("plan", { method: "POST", headers: { "content-type": "application/json" }, body: text }); refreshViews(); }
  catch (e) { $("plan-status").textContent = "Refused: " + e.message; }
}
$("plan-file").addEventListener("change", async (e) => { const f = e.target.files[0]; if (f) loadPlan(await f.text()); });
$("plan-load").addEventListener("click", () => loadPlan($("plan-text").value));
$("plan-remove").addEventListener("click", async () => { await api("plan", { method: "DELETE" }); refreshViews(); });

// ---------- composer ----------
const EXAMPLES = {
  evwid: ["GET", "/evwid/", "c=acme&u=user-42&e=purchase&ky=amount&vl=12.5&tp=n&ky=sku&vl=A%26B&tp=s", ""],
  evwidj: ["POST", "/evwidj/", "c=acme&u=user-42&e=purchase", '{"amount": 12.5, "sku": "A&B"}'],
  ev: ["GET", "/ev/", "c=acme&v=VISITOR&e=page_view&ky=page&vl=%2Fhome&tp=s", ""],
  evvprwid: ["GET", "/evvprwid/", "e=signup&c=acme&u=user-42&eky=plan&evl=pro&etp=s&vky=city&vvl=Tokyo&vtp=s", ""],
  vpr: ["GET", "/vpr/", "c=acme&v=VISITOR&p=vip&vl=true&tp=b", ""],
  id: ["GET", "/id/", "c=acme&u=user-42", ""],
  newnaconf: ["GET", "/newnaconf/acme/", "", ""],
};
function example(name) {
  const [method, path, query, body] = EXAMPLES[name];
  $("c-method").value = method; $("c-path").value = path; $("c-query").value = query; $("c-body").value = body;
}
$("c-endpoint").addEventListener("change", () => example($("c-endpoint").value));
$("c-send").addEventListener("click", async () => {
  const out = $("c-result");
  out.textContent = "Sending…";
  try {
    const r = await postJson("compose", { method: $("c-method").value, path: $("c-path").value, query: $("c-query").value, body: $("c-body").value });
    out.textContent = r.dropped ? "The connection was dropped without an answer (a fault)."
      : `${r.status}${r.retry_after ? "  Retry-After: " + r.retry_after : ""}\n${r.body || ""}`;
  } catch (e) {
    out.textContent = "Not sent: " + e.message;
  }
});

// ---------- start ----------
filtersFromAddress();
example("evwid");
window.addEventListener("popstate", () => { filtersFromAddress(); connect(); });
selectTab(TABS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "calls");
connect();
