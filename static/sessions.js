// The sessions page: the list from GET /api/sessions and one session from
// GET /api/sessions/{job_id}; the timeline itself is drawn by timeline.js.
import { renderTimeline } from "/static/timeline.js";

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};
const clock = (s) => (s ? new Date(s * 1000).toLocaleTimeString() : "?");
const secs = (v) => (typeof v === "number" ? `${(v * 1000).toFixed(0)} ms` : "–");
let current = null;

async function getJSON(path) {
  const res = await fetch(path);
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  }
  if (!res.ok) throw new Error(`${body.error}: ${body.detail}`);
  return body;
}

function showError(err) {
  const box = $("session-errors");
  box.replaceChildren(el("div", "banner", String(err.message || err)));
}

async function refreshList() {
  const { sessions, insights } = await getJSON("/api/sessions");
  $("insights-off").hidden = insights;
  const list = $("sessions");
  list.replaceChildren();
  if (!sessions.length) list.append(el("li", "empty", "No session uploaded yet."));
  for (const s of sessions) {
    const li = el("li", s.job_id === current ? "current" : "");
    li.dataset.jobId = s.job_id;
    li.append(el("div", "room", s.room || "(room not named yet)"));
    const bits = [s.agent_name || "automatic", clock(s.started_at)];
    if (s.duration_s) bits.push(`${s.duration_s.toFixed(1)} s`);
    bits.push(`${s.spans} spans`, `${s.logs} logs`, `${s.transcript_items} messages`);
    if (s.has_audio) bits.push("audio");
    li.append(el("div", "meta", bits.join(" · ")));
    li.addEventListener("click", () => select(s.job_id).catch(showError));
    list.append(li);
  }
  return sessions;
}

function facts(s) {
  const d = s.dispatch || {};
  const rows = [
    ["job", s.job_id],
    ["room", s.room],
    ["agent", s.agent_name || "(unnamed worker)"],
    ["dispatch", d.source ? `${d.source}${d.dispatch_id ? ` ${d.dispatch_id}` : ""}` : "unknown"],
    ["re-dispatches", String(d.redispatches ?? 0)],
    ["started", clock(s.started_at)],
    ["duration", s.duration_s ? `${s.duration_s.toFixed(1)} s` : "still running?"],
  ];
  const dl = $("session-facts");
  dl.replaceChildren();
  for (const [k, v] of rows) dl.append(el("dt", "", k), el("dd", "", v));
}

function errors(s) {
  const box = $("session-errors");
  box.replaceChildren();
  for (const w of s.warnings || []) box.append(el("div", "banner warning", w));
  if (!s.errors.length) return;
  const list = el("ul", "errors banner");
  for (const e of s.errors) list.append(el("li", "", `${clock(e.at)} ${e.where}: ${e.message}`));
  box.append(list);
}

// A metric point as a few words: "llm input tokens 2 (echo)", "tts ttfb 22 ms".
const PREFIXES = ["lk.agents.turn.", "lk.agents.usage.", "gen_ai.client.", "gen_ai."];
function pointText(p) {
  let name = p.name;
  for (const prefix of PREFIXES) name = name.startsWith(prefix) ? name.slice(prefix.length) : name;
  name = name.replace(/[._]/g, " ");
  const type = p.attributes["gen_ai.token.type"];
  if (type) name += ` (${type})`;
  const value = p.unit === "s" ? secs(p.value) : String(Math.round(p.value * 1000) / 1000);
  return `${name} ${value}${p.model ? ` (${p.model})` : ""}`;
}

// The metric points under the row they belong to; how each was placed is its tooltip.
function metricsRow(cls, label, points, title) {
  const tr = el("tr", cls);
  const cell = el("td", "points");
  cell.colSpan = 5;
  for (const p of points) {
    const how = p.placed_by === "value" ? "the turn's own figure" : "the only turn measured in its export";
    cell.append(el("span", "point", pointText(p)));
    cell.lastChild.title = title || `${p.name}: ${how}`;
  }
  tr.append(el("td", "", label), cell);
  return tr;
}

function turns(s) {
  const body = $("turns").querySelector("tbody");
  body.replaceChildren();
  for (const t of s.turns) {
    const tr = el("tr", "turn");
    for (const v of [t.kind, clock(t.start), secs(t.end_of_turn_delay), secs(t.llm_ttft), secs(t.tts_ttfb), secs(t.e2e_latency)]) {
      tr.append(el("td", "", v));
    }
    body.append(tr);
    if (t.metrics?.length) body.append(metricsRow("turn-metrics", "", t.metrics));
  }
  if (s.metrics?.length) {
    const why = "Sums several turns (livekit-agents exports sums every 30 s and at the end), or no turn's";
    body.append(metricsRow("session-metrics", "session", s.metrics, why));
  }
  if (!s.turns.length) body.append(Object.assign(el("tr"), { innerHTML: '<td colspan="6" class="empty">No turn spans.</td>' }));
}

function transcript(s) {
  const list = $("session-transcript");
  list.replaceChildren();
  for (const m of s.transcript) {
    const li = el("li");
    li.append(el("span", `from ${m.role}`, m.role), document.createTextNode(m.text));
    list.append(li);
  }
  if (!s.transcript.length) list.append(el("li", "empty", "No transcript (yet: it comes at the session's end)."));
}

function logs(s) {
  const list = $("session-logs");
  list.replaceChildren();
  for (const r of s.logs) {
    const error = ["ERROR", "FATAL", "CRITICAL"].includes(r.severity);
    list.append(el("li", error ? "error" : "", `${clock(r.at)} ${r.severity} ${r.logger}: ${r.message}`));
  }
}

function audio(s) {
  const player = $("player");
  player.hidden = !s.audio.bytes;
  $("no-audio").hidden = Boolean(s.audio.bytes);
  if (s.audio.bytes) player.src = `/api/sessions/${encodeURIComponent(s.job_id)}/audio`;
}

async function select(jobId) {
  current = jobId;
  history.replaceState(null, "", `#${jobId}`);
  for (const li of $("sessions").children) li.classList.toggle("current", li.dataset.jobId === jobId);
  const s = await getJSON(`/api/sessions/${encodeURIComponent(jobId)}`);
  $("session-empty").hidden = true;
  $("session").hidden = false;
  $("session-title").textContent = `${s.room || s.job_id}`;
  facts(s);
  errors(s);
  renderTimeline($("timeline"), s);
  turns(s);
  transcript(s);
  audio(s);
  logs(s);
  shownReported = s.reported;
  document.body.dataset.session = jobId;
}

// The open session is drawn again while it is still uploading (no report yet), and a room
// asked for in ?room= is opened once its session appears.
let shownReported = false;

async function refresh() {
  const sessions = await refreshList();
  const wanted = location.hash.slice(1);
  const room = new URLSearchParams(location.search).get("room");
  if (!current) {
    const pick = sessions.find((s) => s.job_id === wanted) || sessions.find((s) => room && s.room === room);
    if (pick) await select(pick.job_id);
  } else if (!shownReported) {
    await select(current);
  }
}

async function start() {
  await refresh();
  setInterval(() => refresh().catch(showError), 3000);
}

start().catch((err) => {
  $("sessions").replaceChildren(el("li", "banner", String(err)));
});
