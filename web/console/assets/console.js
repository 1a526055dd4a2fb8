// hecrisk console: one small script for every page. Pages are server-rendered shells; this
// fills them from the REST API (/api/v1, /services/search/jobs/export) and the console's own
// paged endpoints (/console/api). No library, no network beyond this origin.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";

  // h builds an element; strings become text nodes (never HTML), so API data cannot inject markup.
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    add(el, kids);
    return el;
  }
  function add(el, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === undefined || k === null || k === false) continue;
      el.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return el;
  }
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    for (const k of kids) el.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
    return el;
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

  function params() { return new URLSearchParams(location.search); }
  function setParams(obj) {
    const p = params();
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined || v === null || v === "") p.delete(k); else p.set(k, v);
    }
    history.replaceState(null, "", location.pathname + (p.toString() ? "?" + p : ""));
  }
  function url(path, q) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q || {})) {
      if (v === undefined || v === null || v === "") continue;
      if (Array.isArray(v)) v.forEach((x) => p.append(k, x)); else p.set(k, v);
    }
    const t = p.toString();
    return t ? path + "?" + t : path;
  }

  class HTTPError extends Error {
    constructor(status, msg, body) { super(msg); this.status = status; this.body = body; }
  }

  // call fetches JSON with the session cookie; a lost session goes back to the login form.
  async function call(path, q, init) {
    const res = await fetch(url(path, q), Object.assign({ credentials: "same-origin", headers: { Accept: "application/json" } }, init || {}));
    if (res.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new HTTPError(401, "session expired");
    }
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      let msg = res.status + " " + res.statusText;
      if (body && body.error && body.error.message) msg = body.error.message;
      else if (body && typeof body.error === "string") msg = body.error;
      else if (body && body.messages && body.messages.length) msg = body.messages.map((m) => m.text).join("; ");
      throw new HTTPError(res.status, msg, body);
    }
    return body;
  }

  function pad(n, w) { return String(n).padStart(w || 2, "0"); }
  // Times show on the browser's clock, like Splunk Web shows them in the user's zone.
  function fmtTime(v) {
    if (!v) return "";
    const d = v instanceof Date ? v : new Date(v);
    if (isNaN(d) || d.getFullYear() < 1971) return "";
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function zoneLabel() {
    const off = -new Date().getTimezoneOffset();
    return "UTC" + (off >= 0 ? "+" : "-") + pad(Math.floor(Math.abs(off) / 60)) + ":" + pad(Math.abs(off) % 60);
  }
  function fmtNum(n) {
    if (n === undefined || n === null) return "";
    return Number.isInteger(n) ? n.toLocaleString("en-US") : (Math.round(n * 100) / 100).toLocaleString("en-US");
  }
  function fmtDur(sec) {
    if (sec === undefined || sec === null) return "";
    if (sec < 1) return Math.round(sec * 1000) + " ms";
    if (sec < 120) return (Math.round(sec * 100) / 100) + " s";
    return Math.round(sec / 60) + " min";
  }
  // fmtEpoch shows an epoch-seconds _time as Splunk Web does; anything else stays as it is.
  function fmtEpoch(v) { return /^\d{9,11}(\.\d+)?$/.test(v) ? fmtTime(new Date(parseFloat(v) * 1000)) : v; }
  function epoch(v) { return Math.floor(new Date(v).getTime() / 1000); }
  function sevClass(score) {
    return score >= 100 ? "sev-crit" : score >= 50 ? "sev-high" : score >= 20 ? "sev-med" : "sev-low";
  }
  function tags(list) { return h("span", { class: "tags" }, (list || []).map((t) => h("span", {}, t))); }
  function arr(v) { return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]; }
  function errorBox(err) { return h("div", { class: "error", role: "alert" }, err.message || String(err)); }

  // Time picker with Splunk's presets; "Custom" takes any time modifier (-7d@d, @w0, epoch, ISO).
  const PRESETS = [
    ["Last 15 minutes", "-15m", "now"], ["Last 60 minutes", "-60m", "now"], ["Last 4 hours", "-4h", "now"],
    ["Last 24 hours", "-24h", "now"], ["Last 7 days", "-7d", "now"], ["Last 30 days", "-30d", "now"],
    ["Today", "@d", "now"], ["Yesterday", "-1d@d", "@d"], ["Week to date", "@w0", "now"], ["All time", "", ""],
  ];
  function timePicker(state, onChange) {
    const sel = h("select", { id: "timerange", "aria-label": "Time range" });
    let matched = false;
    for (const [label, e, l] of PRESETS) {
      const o = h("option", { value: e + "|" + l }, label);
      if (e === state.earliest && l === state.latest) { o.selected = true; matched = true; }
      sel.appendChild(o);
    }
    const custom = h("option", { value: "custom" }, "Custom…");
    sel.appendChild(custom);
    const ei = h("input", { id: "earliest", placeholder: "earliest, e.g. -7d@d", value: state.earliest, "aria-label": "Earliest" });
    const li = h("input", { id: "latest", placeholder: "latest, e.g. now", value: state.latest, "aria-label": "Latest" });
    const apply = h("button", { type: "button", id: "apply-time" }, "Apply");
    const box = h("span", { class: "custom" + (matched ? " hidden" : "") }, ei, li, apply);
    if (!matched) custom.selected = true;
    sel.addEventListener("change", () => {
      if (sel.value === "custom") { box.classList.remove("hidden"); ei.focus(); return; }
      box.classList.add("hidden");
      const [e, l] = sel.value.split("|");
      state.earliest = e; state.latest = l; ei.value = e; li.value = l;
      onChange(state);
    });
    const go = () => { state.earliest = ei.value.trim(); state.latest = li.value.trim(); onChange(state); };
    apply.addEventListener("click", go);
    for (const i of [ei, li]) i.addEventListener("keydown", (ev) => { if (ev.key === "Enter") go(); });
    const abs = [state.earliest, state.latest].every((v) => /^\d{9,11}$/.test(v)) ?
      h("span", { class: "muted", id: "abs-range" }, fmtTime(new Date(state.earliest * 1000)) + " – " + fmtTime(new Date(state.latest * 1000))) : null;
    return h("span", { class: "timepicker" }, sel, box, abs, h("span", { class: "muted" }, zoneLabel()));
  }
  function timeState(defEarliest) {
    const p = params();
    return {
      earliest: p.has("earliest") ? p.get("earliest") : defEarliest,
      latest: p.has("latest") ? p.get("latest") : (defEarliest === "" ? "" : "now"),
    };
  }

  // chart draws bucketed risk scores as bars in inline SVG; clicking a bar zooms to it.
  function chart(el, tl, onPick) {
    clear(el);
    const W = Math.max(el.clientWidth || 600, 300), H = 180, L = 44, B = 22, T = 8;
    const n = tl.buckets.length;
    const max = Math.max(1, ...tl.buckets.map((b) => b.risk_score));
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Risk score over time" });
    const bw = (W - L - 4) / Math.max(n, 1);
    svg.appendChild(s("line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B }));
    svg.appendChild(s("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
    svg.appendChild(s("text", { x: L - 4, y: T + 9, "text-anchor": "end" }, fmtNum(max)));
    svg.appendChild(s("text", { x: L - 4, y: H - B, "text-anchor": "end" }, "0"));
    tl.buckets.forEach((b, i) => {
      if (!b.risk_score) return;
      const bh = (H - B - T) * b.risk_score / max;
      const r = s("rect", { class: "bar", x: L + i * bw + 0.5, y: H - B - bh, width: Math.max(bw - 1, 1), height: bh });
      r.appendChild(s("title", {}, `${fmtTime(b.time)}: risk score ${fmtNum(b.risk_score)} (${b.count} events)`));
      if (onPick) r.addEventListener("click", () => onPick(b, tl.span_seconds));
      svg.appendChild(r);
    });
    const ticks = Math.min(6, n, Math.max(2, Math.floor((W - L) / 110)));
    for (let k = 0; k < ticks; k++) {
      const i = Math.floor(k * n / ticks);
      const d = new Date(tl.buckets[i].time);
      const label = tl.span_seconds >= 86400 ? fmtTime(d).slice(0, 10) : fmtTime(d).slice(5, 16);
      svg.appendChild(s("text", { x: L + i * bw, y: H - 6 }, label));
    }
    el.appendChild(svg);
    el.appendChild(h("div", { class: "muted" }, `Total risk score ${fmtNum(tl.risk_score)} from ${fmtNum(tl.count)} risk events; ` +
      `${fmtTime(tl.earliest)} – ${fmtTime(tl.latest)}, span ${spanLabel(tl.span_seconds)}.`));
  }
  function spanLabel(sec) {
    if (sec % 86400 === 0) return sec / 86400 + "d";
    if (sec % 3600 === 0) return sec / 3600 + "h";
    return sec / 60 + "m";
  }

  // cursorPager pages an API list that answers next_cursor; it keeps the cursors seen so Prev works.
  function cursorPager(el, load) {
    const stack = [""];
    async function show(i) {
      const page = await load(stack[i]);
      clear(el);
      const prev = h("button", { type: "button", class: "prev", disabled: i === 0 }, "‹ Prev");
      const next = h("button", { type: "button", class: "next", disabled: !page.next_cursor }, "Next ›");
      prev.addEventListener("click", () => show(i - 1));
      next.addEventListener("click", () => { stack[i + 1] = page.next_cursor; show(i + 1); });
      add(el, [prev, h("span", { class: "muted" }, "page " + (i + 1)), next]);
    }
    return { reset: () => { stack.length = 1; return show(0); } };
  }

  // ---------- Risk overview ----------
  async function overview(app) {
    const st = timeState("-24h");
    const notables = h("div", { class: "card notables hidden", id: "notables" });
    const chartEl = h("div", { class: "card chart", id: "chart" });
    const table = h("div", { class: "tablewrap" });
    const pager = h("div", { class: "pager" });
    const reload = () => { setParams(st); loadAll(); };
    // The incident rules normally run on the hourly slot; the button runs them now so an analyst
    // need not wait for the scheduler to see the notables of fresh risk events.
    const incidentOut = h("span", { class: "muted", id: "incident-result" });
    const runIncident = h("button", { type: "button", id: "run-incident-rules", onclick: async () => {
      runIncident.disabled = true;
      clear(incidentOut).appendChild(document.createTextNode("Running…"));
      try {
        const r = await call("/api/v1/risk/notables/dispatch", null, { method: "POST", body: new URLSearchParams({ at: "now" }), headers: { Accept: "application/json" } });
        const n = (r.notables || []).length;
        clear(incidentOut).appendChild(document.createTextNode(`Incident rules: ${r.status}, ${n} notable${n === 1 ? "" : "s"}` + (r.error ? " — " + r.error : "")));
        await loadAll();
      } catch (e) {
        clear(incidentOut).appendChild(errorBox(e));
      } finally {
        runIncident.disabled = false;
      }
    } }, "Run incident rules");
    add(app, [h("div", { class: "row spread" }, h("span", { class: "muted" }, "Risk objects ranked by total risk score"), timePicker(st, reload)),
      h("div", { class: "row", id: "incident-rules" }, runIncident, incidentOut),
      notables, chartEl, h("div", { class: "card" }, h("h2", {}, "Risk objects"), table, pager)]);
    const objects = cursorPager(pager, async (cursor) => {
      const page = await call("/api/v1/risk/objects", { earliest: st.earliest, latest: st.latest, limit: 25, cursor });
      clear(table).appendChild(objectsTable(page.results, st));
      return page;
    });
    async function loadAll() {
      const jobs = [
        call("/console/api/timeline", { earliest: st.earliest, latest: st.latest }).then((tl) =>
          chart(chartEl, tl, (b, span) => {
            setParams({ earliest: String(epoch(b.time)), latest: String(epoch(b.time) + span) });
            location.reload();
          })).catch((e) => clear(chartEl).appendChild(errorBox(e))),
        call("/api/v1/risk/notables", { earliest: st.earliest, latest: st.latest, limit: 20 }).then((p) => {
          clear(notables);
          notables.classList.toggle("hidden", p.results.length === 0);
          add(notables, [h("h2", {}, "Risk notables (" + p.results.length + (p.next_cursor ? "+" : "") + ")"),
            h("ul", {}, p.results.map((n) => h("li", {},
              h("span", { class: "score " + sevClass(n.risk_score) }, fmtNum(n.risk_score)), " ",
              h("a", { href: url("/risk/object", { object: n.risk_object, type: n.risk_object_type, earliest: st.earliest, latest: st.latest }) }, n.risk_object),
              " ", h("span", { class: "muted" }, `(${n.risk_object_type}) — ${n.search_name}, ${fmtTime(n._time)}`))))]);
        }).catch((e) => { notables.classList.remove("hidden"); clear(notables).appendChild(errorBox(e)); }),
        objects.reset().catch((e) => clear(table).appendChild(errorBox(e))),
      ];
      await Promise.all(jobs);
    }
    await loadAll();
  }

  function objectsTable(list, st) {
    if (!list.length) return h("p", { class: "muted", id: "no-objects" }, "No risk events in this time range.");
    return h("table", { id: "objects" },
      h("thead", {}, h("tr", {}, h("th", {}, "Risk object"), h("th", {}, "Type"), h("th", { class: "num" }, "Risk score"),
        h("th", { class: "num hide-phone" }, "Events"), h("th", { class: "num hide-phone" }, "Detections"), h("th", { class: "hide-narrow" }, "MITRE tactics"),
        h("th", { class: "hide-narrow" }, "First seen"), h("th", {}, "Last seen"))),
      h("tbody", {}, list.map((o) => h("tr", {},
        h("td", {}, h("a", { class: "object", href: url("/risk/object", { object: o.normalized_risk_object, type: o.risk_object_type, earliest: st.earliest, latest: st.latest }) }, o.normalized_risk_object)),
        h("td", {}, o.risk_object_type),
        h("td", { class: "num score " + sevClass(o.risk_score) }, fmtNum(o.risk_score)),
        h("td", { class: "num hide-phone" }, fmtNum(o.count)),
        h("td", { class: "num hide-phone", title: (o.sources || []).join("\n") }, fmtNum(o.source_count)),
        h("td", { class: "hide-narrow" }, tags(o.mitre_tactics)),
        h("td", { class: "hide-narrow" }, fmtTime(o.first_time)),
        h("td", {}, fmtTime(o.last_time))))));
  }

  // ---------- Risk object ----------
  async function objectPage(app) {
    const p = params();
    const object = p.get("object") || "", type = p.get("type") || "";
    const st = timeState("-7d");
    clear(app);
    const summary = h("div", { class: "card", id: "summary" });
    const chartEl = h("div", { class: "card chart", id: "chart" });
    const table = h("div", { class: "tablewrap" });
    const pager = h("div", { class: "pager" });
    const reload = () => { setParams(st); load(); };
    add(app, [h("div", { class: "row spread" }, h("h1", {}, "Risk object ", h("span", { class: "mono", id: "object-name" }, object)), timePicker(st, reload)),
      summary, chartEl, h("div", { class: "card" }, h("h2", {}, "Risk events"), table, pager)]);
    const filter = { normalized_risk_object: object, risk_object_type: type };
    const events = cursorPager(pager, async (cursor) => {
      const page = await call("/api/v1/risk/events", Object.assign({ earliest: st.earliest, latest: st.latest, limit: 25, cursor }, filter));
      clear(table).appendChild(eventsTable(page.results, object));
      return page;
    });
    async function load() {
      await Promise.all([
        call("/api/v1/risk/objects", Object.assign({ earliest: st.earliest, latest: st.latest, limit: 1 }, filter)).then((pg) => {
          clear(summary);
          const o = pg.results[0];
          if (!o) { summary.appendChild(h("p", { class: "muted" }, "No risk events for this object in this time range.")); return; }
          summary.appendChild(h("dl", { class: "kv" },
            h("dt", {}, "Type"), h("dd", {}, o.risk_object_type),
            h("dt", {}, "Total risk score"), h("dd", { class: "score " + sevClass(o.risk_score), id: "total-score" }, fmtNum(o.risk_score)),
            h("dt", {}, "Risk events"), h("dd", {}, fmtNum(o.count)),
            h("dt", {}, "Detections"), h("dd", {}, tags(o.sources)),
            h("dt", {}, "MITRE tactics"), h("dd", {}, tags(o.mitre_tactics)),
            h("dt", {}, "MITRE techniques"), h("dd", {}, tags(o.mitre_techniques)),
            h("dt", {}, "First / last seen"), h("dd", {}, fmtTime(o.first_time) + " – " + fmtTime(o.last_time))));
        }).catch((e) => clear(summary).appendChild(errorBox(e))),
        call("/console/api/timeline", Object.assign({ earliest: st.earliest, latest: st.latest }, filter))
          .then((tl) => chart(chartEl, tl)).catch((e) => clear(chartEl).appendChild(errorBox(e))),
        events.reset().catch((e) => clear(table).appendChild(errorBox(e))),
      ]);
    }
    await load();
  }

  function eventsTable(list, object) {
    if (!list.length) return h("p", { class: "muted" }, "No risk events.");
    return h("table", { id: "risk-events" },
      h("thead", {}, h("tr", {}, h("th", {}, "Time"), h("th", {}, "Detection"), h("th", { class: "num" }, "Score"),
        h("th", {}, "Message"), h("th", { class: "hide-narrow" }, "Threat objects"), h("th", { class: "hide-narrow" }, "MITRE ATT&CK"), h("th", {}, "Drill down"))),
      h("tbody", {}, list.map((ev) => {
        const f = ev.fields || {};
        const threats = arr(f.threat_object), ttypes = arr(f.threat_object_type);
        const dd = (view) => url("/risk/drilldown", { search_name: ev.search_name, slot: ev.scheduled_time, object: ev.risk_object || object, view });
        return h("tr", {},
          h("td", { class: "mono" }, fmtTime(ev._time)),
          h("td", {}, ev.search_name),
          h("td", { class: "num score " + sevClass(ev.risk_score) }, fmtNum(ev.risk_score)),
          h("td", {}, f.risk_message || ""),
          h("td", { class: "hide-narrow" }, threats.map((t, i) => h("span", { class: "tag", title: ttypes[i] || "" }, t))),
          h("td", { class: "hide-narrow" }, tags(arr(f["annotations.mitre_attack.mitre_tactic"])), tags(arr(f["annotations.mitre_attack.mitre_technique_id"]))),
          h("td", {}, h("a", { class: "drill-results", href: dd("results") }, "Results"), " · ", h("a", { class: "drill-raw", href: dd("raw") }, "Raw events")));
      })));
  }

  // ---------- Detections ----------
  async function loadDetections() {
    const [ds, docs] = await Promise.all([call("/api/v1/detections"), call("/console/api/docs").catch(() => ({ results: [] }))]);
    const byID = new Map(docs.results.map((d) => [d.id, d]));
    return ds.results.map((d) => Object.assign({ doc: byID.get(d.id) || {} }, d));
  }

  async function dispatch(id, at, out) {
    clear(out).appendChild(h("div", { class: "notice" }, "Running…"));
    try {
      const body = new URLSearchParams();
      if (at) body.set("at", at);
      const r = await call("/api/v1/detections/" + encodeURIComponent(id) + "/dispatch", null,
        { method: "POST", body, headers: { Accept: "application/json" } });
      clear(out).appendChild(h("div", { class: r.error ? "error" : "notice", id: "dispatch-result" },
        `${r.search_name || id}: ${r.status} for slot ${fmtTime(r.scheduled_time)} (window ${fmtTime(r.earliest_time)} – ${fmtTime(r.latest_time)}), ` +
        `${r.result_count} result rows, ${r.risk_event_count} risk events, ${fmtDur(r.duration_seconds)}.` + (r.error ? " " + r.error : ""),
        warningsMark(r.warnings)));
      return r;
    } catch (e) {
      clear(out).appendChild(errorBox(e));
      return null;
    }
  }

  function runControls(id, out, after) {
    const at = h("input", { class: "run-at", placeholder: "-1d@h, 2026-11-20T10:00", "aria-label": "Run for time", size: 16 });
    const now = h("button", { type: "button", class: "primary run-now" }, "Run now");
    const past = h("button", { type: "button", class: "run-past" }, "Run for a past time");
    now.addEventListener("click", async () => { now.disabled = true; await dispatch(id, "", out); now.disabled = false; after(); });
    past.addEventListener("click", async () => {
      if (!at.value.trim()) { at.focus(); return; }
      past.disabled = true; await dispatch(id, at.value.trim(), out); past.disabled = false; after();
    });
    return h("span", { class: "row" }, now, at, past);
  }

  async function detectionsPage(app) {
    const out = h("div", { id: "dispatch-out" });
    const table = h("div", { class: "tablewrap card" });
    add(app, [out, table]);
    async function load() {
      let list;
      try { list = await loadDetections(); } catch (e) { clear(table).appendChild(errorBox(e)); return; }
      clear(table).appendChild(h("table", { id: "detections" },
        h("thead", {}, h("tr", {}, h("th", {}, "Detection"), h("th", {}, "Type"), h("th", {}, "Schedule"), h("th", {}, "Enabled"),
          h("th", {}, "Last run"), h("th", { class: "hide-narrow" }, "Next run"), h("th", {}, "Last status"),
          h("th", { class: "num hide-narrow" }, "Duration"), h("th", { class: "num" }, "Rows"), h("th", {}, ""))),
        h("tbody", {}, list.map((d) => h("tr", { "data-id": d.id },
          h("td", {}, h("a", { href: url("/detections/view", { id: d.id }) }, d.name), h("div", { class: "muted mono" }, d.search_name)),
          h("td", {}, d.type),
          h("td", { class: "mono" }, d.cron_schedule, h("div", { class: "muted" }, `${d.earliest_time} → ${d.latest_time}`)),
          h("td", {}, d.enabled ? "yes" : "no", d.schedule_error ? h("div", { class: "error" }, d.schedule_error) : null),
          h("td", { class: "nowrap" }, d.last_run ? fmtTime(d.last_run.dispatch_time) : "never"),
          h("td", { class: "hide-narrow nowrap" }, d.next_dispatch_time ? fmtTime(d.next_dispatch_time) : ""),
          h("td", { class: "status-" + (d.running ? "running" : d.last_status || "") }, d.running ? "running" : d.last_status || "",
            warningsMark(d.last_run && d.last_run.warnings)),
          h("td", { class: "num hide-narrow" }, d.last_run ? fmtDur(d.last_run.duration_seconds) : ""),
          h("td", { class: "num" }, d.last_run ? fmtNum(d.last_run.result_count) : ""),
          h("td", {}, h("button", { type: "button", class: "primary run-now", onclick: async (ev) => {
            ev.target.disabled = true; await dispatch(d.id, "", out); ev.target.disabled = false; load();
          } }, "Run now")))))));
    }
    await load();
    // Scheduled runs start and finish on their own; keep the catalog current.
    setInterval(load, 15000);
  }

  async function detectionPage(app) {
    const id = params().get("id") || "";
    const out = h("div", { id: "dispatch-out" });
    const info = h("div", { class: "card", id: "detection-info" });
    const hist = h("div", { class: "tablewrap" });
    const pager = h("div", { class: "pager" });
    clear(app);
    const title = h("h1", {}, "Detection");
    add(app, [title, out, info, h("div", { class: "card" }, h("h2", {}, "Run history"), hist, pager)]);
    let d;
    try { d = (await loadDetections()).find((x) => x.id === id || x.name === id || x.search_name === id); } catch (e) { info.appendChild(errorBox(e)); return; }
    if (!d) { info.appendChild(errorBox(new Error("No detection " + id))); return; }
    clear(title).appendChild(document.createTextNode(d.name));
    const doc = d.doc;
    const spl = doc.search || "";
    // The detection is marked while the run dispatched last has warnings.
    const banner = h("div", { id: "detection-warnings" });
    title.after(banner);
    const history = cursorPager(pager, async (cursor) => {
      const page = await call("/api/v1/runs", { detection: d.id, limit: 20, cursor });
      clear(hist).appendChild(runsTable(page.results, spl));
      if (!cursor) {
        const newest = page.results.reduce((a, r) => (!a || r.dispatch_time > a.dispatch_time ? r : a), null);
        clear(banner);
        if (newest && newest.warnings && newest.warnings.length) {
          banner.appendChild(h("div", { class: "notice warnings-banner" },
            `The last run (slot ${fmtTime(newest.scheduled_time)}) may have missed what this detection looks for:`, warningsMark(newest.warnings)));
        }
      }
      return page;
    });
    add(info, [
      h("div", { class: "row spread" }, runControls(d.id, out, () => history.reset()),
        spl ? h("a", { class: "button", href: url("/search", { q: spl, earliest: d.earliest_time, latest: d.latest_time }) }, "Open in Search") : null),
      h("dl", { class: "kv" },
        h("dt", {}, "Saved search"), h("dd", { class: "mono" }, d.search_name),
        h("dt", {}, "Type"), h("dd", {}, d.type),
        h("dt", {}, "Schedule"), h("dd", { class: "mono" }, `${d.cron_schedule}  earliest=${d.earliest_time} latest=${d.latest_time} schedule_window=${d.schedule_window || "0"}`),
        h("dt", {}, "Enabled"), h("dd", {}, d.enabled ? "yes" : "no"),
        h("dt", {}, "Next run"), h("dd", {}, fmtTime(d.next_dispatch_time)),
        h("dt", {}, "MITRE ATT&CK"), h("dd", {}, tags(doc.mitre_attack_ids)),
        h("dt", {}, "Risk message"), h("dd", {}, doc.risk_message || ""),
        h("dt", {}, "Description"), h("dd", { id: "description" }, doc.description || ""),
        doc.known_false_positives ? [h("dt", {}, "Known false positives"), h("dd", {}, doc.known_false_positives)] : null,
        h("dt", {}, "Source"), h("dd", { class: "mono" }, doc.source || "")),
      h("h2", {}, "SPL"), h("pre", { class: "card", id: "spl" }, spl)]);
    await history.reset().catch((e) => clear(hist).appendChild(errorBox(e)));
  }

  // A run that did not fail may still have missed what it looks for (a field it reads gone
  // from the events, no events at all): its warnings are shown next to its status.
  function warningsMark(ws) {
    if (!ws || !ws.length) return null;
    return h("div", { class: "warnings", title: ws.join("\n") },
      h("span", { class: "warn-badge" }, ws.length === 1 ? "1 warning" : ws.length + " warnings"),
      h("ul", {}, ws.map((w) => h("li", {}, w))));
  }

  function runsTable(list, spl) {
    if (!list.length) return h("p", { class: "muted", id: "no-runs" }, "No runs yet.");
    return h("table", { id: "runs" },
      h("thead", {}, h("tr", {}, h("th", {}, "Scheduled time"), h("th", { class: "hide-narrow" }, "Dispatched"), h("th", {}, "Window"),
        h("th", {}, "Status"), h("th", {}, "Kind"), h("th", { class: "num" }, "Duration"), h("th", { class: "num" }, "Rows"),
        h("th", { class: "num" }, "Risk events"), h("th", {}, ""))),
      h("tbody", {}, list.map((r) => h("tr", {},
        h("td", { class: "mono" }, fmtTime(r.scheduled_time)),
        h("td", { class: "mono hide-narrow" }, fmtTime(r.dispatch_time)),
        h("td", { class: "mono" }, fmtTime(r.earliest_time) + " – " + fmtTime(r.latest_time)),
        h("td", { class: "status-" + r.status }, r.status, r.error ? h("div", { class: "muted" }, r.error) : null,
          warningsMark(r.warnings)),
        h("td", {}, r.manual ? "manual" : "scheduled"),
        h("td", { class: "num" }, fmtDur(r.duration_seconds)),
        h("td", { class: "num" }, fmtNum(r.result_count)),
        h("td", { class: "num" }, fmtNum(r.risk_event_count)),
        h("td", {}, spl && r.earliest_time ? h("a", { href: url("/search", { q: spl, earliest: epoch(r.earliest_time), latest: epoch(r.latest_time) }) }, "Results") : null)))));
  }

  // ---------- Search ----------
  const PAGE = 50;
  async function searchPage(app) {
    const p = params();
    const st = timeState("-24h");
    const q = h("textarea", { id: "q", spellcheck: "false", placeholder: 'search sourcetype="ollama:server" | stats count by host', "aria-label": "Search" }, p.get("q") || "");
    const run = h("button", { type: "submit", class: "primary", id: "run" }, "Search");
    const from = p.get("from");
    const status = h("div", { class: "muted", id: "search-status" });
    const errEl = h("div", { id: "search-error" });
    const exportEl = h("span", { class: "row", id: "export" });
    let view = p.get("view") || "events";
    // Like Splunk, a transforming search (no _raw in its rows) opens on Statistics unless the
    // user picked a view.
    let userView = p.has("view");
    const tabs = h("div", { class: "tabs" });
    const results = h("div", { class: "tablewrap", id: "results" });
    const pager = h("div", { class: "pager" });
    const form = h("form", { class: "card", id: "search-form" }, q, h("div", { class: "row spread" }, timePicker(st, () => go(0)), run));
    add(app, [from ? h("p", { class: "notice", id: "drill-note" }, "Drill-down from a risk event of ", h("b", {}, from), " over the window its run searched.") : null,
      form, errEl, h("div", { class: "row spread" }, status, exportEl), tabs, results, pager]);
    const fit = () => { q.rows = Math.min(12, Math.max(3, Math.ceil(q.value.length / 110) + (q.value.match(/\n/g) || []).length)); };
    q.addEventListener("input", fit);
    fit();
    form.addEventListener("submit", (ev) => { ev.preventDefault(); go(0); });
    q.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); go(0); } });
    let last = null;
    function renderTabs() {
      clear(tabs);
      for (const [k, label] of [["events", "Events"], ["table", "Statistics"]]) {
        const b = h("button", { type: "button", class: view === k ? "on" : "", id: "tab-" + k }, label);
        b.addEventListener("click", () => { view = k; userView = true; setParams({ view }); renderTabs(); if (last) renderResults(last); });
        tabs.appendChild(b);
      }
    }
    function renderResults(page) {
      clear(results);
      if (!page.rows.length) { results.appendChild(h("p", { class: "muted" }, "No results.")); return; }
      if (view === "events") {
        results.appendChild(h("div", { class: "events card", id: "events" }, page.rows.map((r) => {
          const t = arr(r._time)[0];
          const raw = r._raw ? arr(r._raw).join("\n") : Object.entries(r).map(([k, v]) => `${k}=${arr(v).join(",")}`).join(" ");
          return h("div", { class: "ev" },
            h("div", { class: "mono" }, t ? fmtEpoch(t) : ""),
            h("div", {}, h("pre", { class: "raw" }, raw),
              h("div", { class: "meta" }, ["host", "source", "sourcetype", "index"].filter((f) => r[f]).map((f) => `${f} = ${arr(r[f]).join(", ")}`).join("   "))));
        })));
      } else {
        results.appendChild(h("table", { id: "stats" },
          h("thead", {}, h("tr", {}, page.fields.map((f) => h("th", {}, f)))),
          h("tbody", {}, page.rows.map((r) => h("tr", {}, page.fields.map((f) => h("td", f === "_time" ? { class: "mono nowrap" } : {},
            arr(r[f]).map((v, i) => [i ? h("br") : null, f === "_time" ? fmtEpoch(v) : v]))))))));
      }
    }
    function exportLinks(search) {
      clear(exportEl);
      for (const mode of ["csv", "json"]) {
        exportEl.appendChild(h("a", { class: "button export-" + mode, href: url("/services/search/jobs/export",
          { search, earliest_time: st.earliest, latest_time: st.latest, output_mode: mode }), download: "hecrisk-search." + mode }, "Export " + mode.toUpperCase()));
      }
    }
    async function go(offset) {
      const text = q.value.trim();
      setParams({ q: text, earliest: st.earliest, latest: st.latest, view: userView ? view : "" });
      clear(errEl); clear(pager);
      if (!text) return;
      status.textContent = "Searching…";
      run.disabled = true;
      try {
        const form = new URLSearchParams({ q: text, earliest: st.earliest, latest: st.latest, offset: String(offset), count: String(PAGE) });
        const page = await call("/console/api/search", null, { method: "POST", body: form, headers: { Accept: "application/json" } });
        last = page;
        const end = offset + page.rows.length;
        status.textContent = (page.total !== undefined ? `${fmtNum(page.total)} results` : `more than ${fmtNum(end)} results`) +
          (page.rows.length ? ` (showing ${offset + 1}–${end})` : "") + ` in ${fmtDur(page.duration_seconds)}`;
        exportLinks(page.search);
        for (const m of page.messages || []) errEl.appendChild(h("div", { class: "warning", role: "status" }, m));
        if (!userView && page.rows.length) {
          const nv = page.rows.some((r) => r._raw) ? "events" : "table";
          if (nv !== view) { view = nv; renderTabs(); }
        }
        renderResults(page);
        const prev = h("button", { type: "button", class: "prev", disabled: offset === 0 }, "‹ Prev");
        const next = h("button", { type: "button", class: "next", disabled: !page.more }, "Next ›");
        prev.addEventListener("click", () => go(Math.max(0, offset - PAGE)));
        next.addEventListener("click", () => go(offset + PAGE));
        add(pager, [prev, h("span", { class: "muted" }, "page " + (Math.floor(offset / PAGE) + 1)), next]);
      } catch (e) {
        status.textContent = "";
        clear(results); clear(exportEl);
        const b = e.body || {};
        const box = h("div", { class: "error", role: "alert" }, e.message);
        if (typeof b.position === "number" && b.position >= 0 && b.search) {
          // Point at the spot in the query as run ("search " may have been prepended).
          box.appendChild(h("pre", { class: "where" }, b.search + "\n" + " ".repeat(Math.min(b.position, b.search.length)), h("span", { class: "caret" }, "^"),
            ` position ${b.position}`));
        }
        errEl.appendChild(box);
      } finally {
        run.disabled = false;
      }
    }
    renderTabs();
    if (q.value.trim()) await go(0);
  }

  // ---------- Ingest ----------
  // Splunk's HEC status codes; other numbers are plain HTTP statuses (404, 405, …).
  const HEC_CODES = {
    0: "Success", 1: "Token disabled", 2: "Token is required", 3: "Invalid authorization", 4: "Invalid token",
    5: "No data", 6: "Invalid data format", 7: "Incorrect index", 8: "Internal server error", 9: "Server is busy",
    10: "Data channel is missing", 11: "Invalid data channel", 12: "Event field is required",
    13: "Event field cannot be blank", 14: "ACK is disabled", 15: "Error in handling indexed fields",
    16: "Query string authorization is not enabled", 17: "HEC is healthy", 18: "HEC is unhealthy, queues are full",
    19: "HEC is unhealthy, ack service unavailable", 20: "HEC is unhealthy, queues are full, ack service unavailable",
    21: "Invalid token (health)", 22: "Token disabled (health)", 23: "Server is shutting down",
  };
  async function ingestPage(app) {
    const body = h("div", { id: "ingest" });
    app.appendChild(body);
    let prev = null;
    async function load() {
      let d;
      try { d = await call("/api/v1/ingest"); } catch (e) { clear(body).appendChild(errorBox(e)); return; }
      const t = new Date(d.time).getTime() / 1000;
      const rate = (list, key) => {
        const old = prev && new Map((prev.stats[key] || []).map((c) => [c.name, c.events]));
        return (name, n) => old && t > prev.t ? ((n - (old.get(name) || 0)) / (t - prev.t)) : null;
      };
      const st = d.stats || {};
      const counts = (title, key, id) => {
        const r = rate(st[key], key);
        return h("div", { class: "card" }, h("h2", {}, title), h("table", { id },
          h("thead", {}, h("tr", {}, h("th", {}, key === "sourcetypes" ? "Sourcetype" : "Host"), h("th", { class: "num" }, "Events/s"), h("th", { class: "num" }, "Events since start"))),
          h("tbody", {}, (st[key] || []).map((c) => {
            const eps = r(c.name, c.events);
            return h("tr", {}, h("td", {}, c.name), h("td", { class: "num" }, eps === null ? "…" : fmtNum(Math.round(eps * 10) / 10)), h("td", { class: "num" }, fmtNum(c.events)));
          }))));
      };
      clear(body);
      add(body, [
        h("div", { class: "stats" },
          h("div", { class: "stat" }, h("b", {}, fmtNum(st.events || 0)), "events"),
          h("div", { class: "stat" }, h("b", {}, fmtNum(st.requests || 0)), "requests"),
          h("div", { class: "stat" }, h("b", {}, fmtNum(Math.round((st.bytes || 0) / 1024))), "KiB received"),
          h("div", { class: "stat" }, h("b", {}, fmtNum(st.ack_pending || 0)), `pending acks in ${fmtNum(st.ack_channels || 0)} channels`)),
        h("div", { class: "card" }, h("h2", {}, "HEC tokens"), h("div", { class: "tablewrap" }, h("table", { id: "tokens" },
          h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Default index"), h("th", {}, "Allowed indexes"), h("th", {}, "Sourcetype"), h("th", {}, "ACK"), h("th", {}, "State"))),
          h("tbody", {}, (d.tokens || []).map((k) => h("tr", {}, h("td", { class: "mono" }, k.name), h("td", {}, k.index || "main"),
            h("td", {}, (k.indexes || []).length ? tags(k.indexes) : h("span", { class: "muted" }, "any")),
            h("td", {}, k.sourcetype || ""), h("td", {}, k.useACK ? "on" : "off"),
            h("td", {}, k.disabled ? "disabled" : "enabled", k.generated ? h("span", { class: "muted" }, " (generated)") : null))))))),
        h("div", { class: "grid2" }, counts("By sourcetype", "sourcetypes", "by-sourcetype"), counts("By host", "hosts", "by-host")),
        h("div", { class: "card" }, h("h2", {}, "Refusals by HEC code"),
          Object.keys(st.refusals_by_code || {}).length ? h("table", { id: "refusal-codes" },
            h("thead", {}, h("tr", {}, h("th", {}, "Code"), h("th", {}, "Meaning"), h("th", { class: "num" }, "Count"))),
            h("tbody", {}, Object.entries(st.refusals_by_code).map(([c, n]) => h("tr", {}, h("td", {}, c), h("td", {}, HEC_CODES[c] || "HTTP " + c), h("td", { class: "num" }, fmtNum(n))))))
            : h("p", { class: "muted" }, "No refusals since start."),
          (st.recent_refusals || []).length ? [h("h2", {}, "Recent refusals"), h("div", { class: "tablewrap" }, h("table", { id: "refusals" },
            h("thead", {}, h("tr", {}, h("th", {}, "Time"), h("th", {}, "Endpoint"), h("th", {}, "HTTP"), h("th", {}, "Code"), h("th", {}, "Text"), h("th", {}, "Token"), h("th", {}, "Remote"))),
            h("tbody", {}, st.recent_refusals.map((r) => h("tr", {}, h("td", { class: "mono" }, fmtTime(r.time)), h("td", {}, r.endpoint),
              h("td", {}, r.http_status), h("td", {}, r.code), h("td", {}, r.text), h("td", {}, r.token || ""), h("td", { class: "mono" }, r.remote))))))] : null),
        h("p", { class: "muted" }, "Rates are measured between refreshes (every 5 s); counters start with the server."),
      ]);
      prev = { t, stats: st };
    }
    await load();
    setInterval(load, 5000);
  }

  const pages = { overview, object: objectPage, detections: detectionsPage, detection: detectionPage, search: searchPage, ingest: ingestPage };
  document.addEventListener("DOMContentLoaded", async () => {
    const app = document.getElementById("app");
    const fn = pages[app.dataset.page];
    if (!fn) return;
    try { await fn(app); } catch (e) { app.appendChild(errorBox(e)); }
    document.body.dataset.ready = "1";
  });
})();
