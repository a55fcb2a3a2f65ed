// The debug page: connect like a real app does, then show every step until the agent
// talks, or explain why it did not come. Uses the livekit-client UMD global.
const LK = window.LivekitClient;
const $ = (id) => document.getElementById(id);

const MODE_HELP = {
  explicit: "Joins with a plain token, then asks the proxy to dispatch the named agent: the flow of most self-hosted apps.",
  token: "Puts RoomConfiguration(agents=[…]) in the token, like agent-starter-react. Honoured only if this join creates the room.",
  automatic: "Plain token, no dispatch: only an unnamed worker (LIVEKIT_AGENT_NAME empty) comes by itself.",
  none: "Plain token, no dispatch, named worker: the classic \"agent never joins\".",
};

// Automation contract: tests read these.
const devstack = { log: [], state: "idle", agentLevelPeak: 0, micLevelPeak: 0, room: null, diagnosis: null, delivery: null, agents: [], nodes: null, cluster: false };
window.devstack = devstack;

let room = null;
let startedAt = 0;
let waitTimer = null;
let meters = [];
let config = { agent_name: "", agent_wait_timeout: 20 };

function setState(state) {
  devstack.state = state;
  document.body.dataset.agentState = state;
  $("state-text").textContent = {
    idle: "idle", connecting: "connecting…", waiting: "waiting for the agent…",
    joined: "agent joined", timeout: "no agent (timed out)", error: "error",
  }[state];
  const busy = state === "connecting" || state === "waiting" || state === "joined" || state === "timeout";
  $("connect").disabled = busy;
  $("disconnect").disabled = !room;
}

function log(event, message = "", level = "") {
  const t = startedAt ? Math.round(performance.now() - startedAt) : 0;
  const entry = { t_ms: t, event, message, level };
  devstack.log.push(entry);
  const li = document.createElement("li");
  if (level) li.className = level;
  li.innerHTML = `<span class="t">+${t} ms</span><span class="ev"></span><span class="msg"></span>`;
  li.querySelector(".ev").textContent = event;
  li.querySelector(".msg").textContent = message;
  $("log").append(li);
  li.scrollIntoView({ block: "nearest" });
}

// Why the worker cannot start, and the fix: visible without opening the terminal.
function showCrash(text) {
  $("crash").textContent = text;
  $("crash").hidden = !text;
}

function showBanner(text) {
  $("banner").textContent = text;
  $("banner").hidden = !text;
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    throw new Error(`the proxy did not answer (${err.message}); is \`make dev\` running?`);
  }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const error = new Error(data.detail || `${path} answered ${resp.status}`);
    error.hint = data.hint || "";
    error.status = resp.status;
    throw error;
  }
  return data;
}

// ---- status pills ------------------------------------------------------------------

async function refreshStatus() {
  let health;
  try {
    health = await api("/api/health");
  } catch (err) {
    pill("pill-server", "bad", "proxy down");
    return null;
  }
  const lk = health.livekit;
  if (!lk.reachable) pill("pill-server", "bad", "server down");
  else if (!lk.keys_accepted) pill("pill-server", "bad", "server refuses keys");
  else pill("pill-server", "ok", "server up");
  const w = health.worker;
  // Agent processes only; one copy of a pool restarting while another is registered is fine.
  const restarting = (health.processes || []).filter((p) => p.state === "restarting" && p.name.startsWith("agent"));
  const registered = health.registered || {};
  const crash = health.agent_crash;
  if (crash && !registered.expected_agent_registered) pill("pill-worker", "bad", `${crash.state}: ${crash.error}`, crash.fix);
  else if (restarting.length && !registered.expected_agent_registered) pill("pill-worker", "bad", `${restarting.map((p) => p.name).join(", ")} restarting (${restarting[0].last_exit})`);
  else if (registered.known && registered.expected_agent_registered === false) pill("pill-worker", "warn", `waiting for worker "${health.expected_agent_name}"`);
  else if (!w.reachable && !registered.expected_agent_registered) pill("pill-worker", "bad", "no worker");
  else if (health.names_match === false && !registered.expected_agent_registered) pill("pill-worker", "warn", `worker "${w.agent_name || "(unnamed)"}" ≠ "${health.expected_agent_name}"`);
  else if (!registered.known) pill("pill-worker", w.healthy ? "ok" : "bad", `worker "${w.agent_name || "(unnamed)"}" up`);
  else pill("pill-worker", "ok", `worker "${health.expected_agent_name}" registered`);
  renderWorkers(health);
  followWorkers(health);
  noteProxyRestart(health);
  devstack.cluster = (health.nodes || []).length > 1;
  // Your own agent file names itself once its worker is up: follow it until you type a name.
  if (!nameEdited && state() === "idle" && health.expected_agent_name && !new URLSearchParams(location.search).has("agent")) {
    $("agent-name").value = health.expected_agent_name;
    markRegistered();
  }
  if (state() === "idle") {
    showBanner(!lk.reachable ? `livekit-server at ${lk.url} is not reachable: start it with \`make dev\`.` : "");
  }
  return health;
}

// The proxy runs under its supervisor: a restart (a crash) is told once, with what it kept.
let proxyStartedAt = null;
function noteProxyRestart(health) {
  const started = health.proxy && health.proxy.started_at;
  if (!started) return;
  if (proxyStartedAt !== null && started !== proxyStartedAt) {
    const restarts = ((health.processes || []).find((p) => p.name.startsWith("proxy")) || {}).restarts || 0;
    log("proxy restarted", `the proxy was restarted by its supervisor (${restarts} so far); it resumed ${health.proxy.resumed_deliveries} followed dispatches`, "warn");
  }
  proxyStartedAt = started;
}

function pill(id, kind, text, fix = "") {
  $(id).className = `pill ${kind}`;
  $(id).textContent = text;
  // The fix rides along as the tooltip and in the banner below the pills.
  $(id).title = fix;
  if (id === "pill-worker") showCrash(kind === "bad" && fix ? `${text}. Fix: ${fix}` : "");
}

const state = () => devstack.state;

// ---- delivery: the watcher's counters and events, and the worker pool ------------------

function renderWorkers(health) {
  const list = $("workers");
  list.replaceChildren();
  const pool = health.pool || [];
  const registered = (health.registered || {}).workers || [];
  for (const w of pool) {
    const li = document.createElement("li");
    li.textContent = `${w.name}: ${w.reachable ? `"${w.agent_name}", ${w.active_jobs} jobs, load ${Number(w.load || 0).toFixed(2)}` : "not answering"} (${w.url})`;
    list.append(li);
  }
  const mine = new Set(pool.map((w) => w.agent_name));
  for (const r of registered.filter((x) => !mine.has(x.agent_name))) {
    const li = document.createElement("li");
    li.textContent = `${r.worker_id}: "${r.agent_name}", registered by someone else (${r.jobs_assigned} jobs)`;
    list.append(li);
  }
  if (!list.children.length) list.innerHTML = '<li class="empty">no worker registered</li>';
}

const seenEvents = new Set();
let sessionStartedEpoch = 0; // watcher events from before this Connect are an earlier session's

// ---- the agent selector: every registered agent, live ---------------------------------

let registeredAgents = null; // null: unknown (no server log), else the names
let nameEdited = false; // the user typed an agent name: the page stops following the default
let workersKey = null; // the workers /api/health last listed

// The list is asked for again when the workers change, not on a timer: /api/health (every
// 5 s) lists them, and each /api/agents asks every worker of the pool for its load.
function followWorkers(health) {
  const registered = ((health.registered || {}).workers || []).map((w) => [w.worker_id, w.agent_name]);
  const pool = (health.pool || []).map((w) => [w.name, w.agent_name, w.reachable]);
  const key = JSON.stringify([registered, pool]);
  if (key === workersKey) return;
  workersKey = key;
  refreshAgents();
}

async function refreshAgents() {
  let data;
  try {
    data = await api("/api/agents");
  } catch {
    return;
  }
  registeredAgents = data.known ? data.agents.map((a) => a.agent_name) : null;
  devstack.agents = data.agents;
  const list = $("agent-list");
  list.replaceChildren(...data.agents.map((a) => {
    const option = document.createElement("option");
    option.value = a.agent_name;
    option.label = `${a.agent_name} (${a.workers.length} worker${a.workers.length === 1 ? "" : "s"}${a.started_by_stack ? "" : ", not started by the stack"})`;
    return option;
  }));
  markRegistered();
}

function markRegistered() {
  const name = $("agent-name").value.trim();
  const mark = $("agent-registered");
  if (registeredAgents === null || $("mode").value === "automatic") {
    mark.textContent = "";
  } else if (registeredAgents.includes(name)) {
    mark.textContent = "registered";
    mark.className = "mark-registered ok";
  } else {
    // Kept possible on purpose: a name no worker has is the mismatch this page reproduces.
    mark.textContent = "not registered";
    mark.className = "mark-registered bad";
  }
}

async function addAgent(switching) {
  const roomName = room?.name || $("room").value.trim(); // the room joined, not the form's
  const other = $("other-agent").value.trim();
  if (!room || !other) return;
  const path = switching ? "/api/switch-agent" : "/api/dispatch-agent";
  log(switching ? "switch requested" : "agent added", `${path} agent "${other}"`);
  try {
    const d = await api(path, { room: roomName, agent_name: other });
    if (switching) {
      log("switched", `${d.from.join(", ") || "nobody"} -> ${d.to}: ${d.to} joined ${d.joined_after_ms} ms after the request; removed ${d.removed_dispatch_ids.join(", ") || "no dispatch"}`, "ok");
      $("agent-name").value = other;
      markRegistered();
    } else {
      log("dispatch created", `${d.dispatch_id}: ${d.message}`, "ok");
    }
  } catch (err) {
    log(switching ? "switch refused" : "dispatch failed", `${err.message} ${err.hint || ""}`, "bad");
  }
}

// Several nodes (make dev-cluster): which node the room runs on, and each agent's worker.
let roomNodes = { room: null, agents: {} };

async function refreshRoomNode(roomName) {
  let r;
  try {
    r = await api(`/api/rooms/${encodeURIComponent(roomName)}`);
  } catch {
    return;
  }
  const agents = {};
  for (const d of r.dispatches) for (const j of d.jobs) if (j.participant_identity) agents[j.participant_identity] = j.node;
  const changed = r.node !== roomNodes.room || JSON.stringify(agents) !== JSON.stringify(roomNodes.agents);
  roomNodes = { room: r.node, agents };
  devstack.nodes = roomNodes;
  if (changed) {
    log("nodes", `room on node ${r.node ?? "?"}${Object.entries(agents).map(([id, n]) => `, ${id} on node ${n ?? "?"}`).join("")}`);
    renderParticipants();
  }
  if (r.warning) showBanner(r.warning);
}

async function refreshDelivery(roomName) {
  let d;
  try {
    d = await api(`/api/delivery${roomName ? `?room=${encodeURIComponent(roomName)}` : ""}`);
  } catch {
    return;
  }
  devstack.delivery = d;
  $("redispatch-mode").textContent = `re-dispatch ${d.redispatch}`;
  const c = d.counters || {};
  $("counters").innerHTML = "";
  for (const [key, label] of [["dispatches_requested", "requested"], ["dispatches_delivered", "delivered"], ["redispatches", "re-dispatched"], ["dispatches_lost", "lost"]]) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = String(c[key] ?? 0);
    $("counters").append(dt, dd);
  }
  if (!room) return;
  for (const e of d.events) {
    const key = `${e.at}|${e.kind}|${e.message}`;
    if (seenEvents.has(key) || e.at < sessionStartedEpoch - 1) continue;
    seenEvents.add(key);
    const level = e.kind === "agent lost" || e.kind === "gave up" ? "bad" : ["re-dispatched", "no worker", "not assigned"].includes(e.kind) ? "warn" : "";
    log(`watcher: ${e.kind}`, e.message, level);
  }
}

// ---- participants --------------------------------------------------------------------

function renderParticipants() {
  const list = $("participants");
  list.replaceChildren();
  if (!room) {
    list.innerHTML = '<li class="empty">not connected</li>';
    return;
  }
  for (const p of [room.localParticipant, ...room.remoteParticipants.values()]) {
    const li = document.createElement("li");
    const agent = p.isAgent;
    li.innerHTML = `<div class="who"><span class="id"></span><span class="badge ${agent ? "agent" : ""}">${agent ? "AGENT" : "STANDARD"}</span></div><div class="attrs"></div><div class="tracks"></div>`;
    const name = agent ? (p.attributes?.["lk.agent.name"] ?? p.attributes?.["lk.agent_name"] ?? "") : "";
    const agentState = agent ? p.attributes?.["lk.agent.state"] || "joining" : "";
    li.dataset.agentName = name;
    const node = agent ? roomNodes.agents[p.identity] : p === room.localParticipant ? roomNodes.room : null;
    li.querySelector(".id").textContent = p.identity + (p === room.localParticipant ? " (you)" : "") + (agent ? ` · ${name || "unnamed"} · ${agentState}` : "") + (node ? ` · node ${node}` : "");
    const attrs = Object.entries(p.attributes || {}).sort().map(([k, v]) => `${k}=${v === "" ? '""' : v}`);
    li.querySelector(".attrs").textContent = attrs.join("\n") || "no attributes";
    const tracks = [...p.trackPublications.values()].map((t) => `${t.source}${t.isMuted ? " (muted)" : ""}${t.isSubscribed === false ? " (not subscribed)" : ""}`);
    li.querySelector(".tracks").textContent = tracks.length ? `tracks: ${tracks.join(", ")}` : "no tracks";
    list.append(li);
  }
}

// ---- audio -----------------------------------------------------------------------------

function startMeter(track, meterId, peakKey) {
  let analyser;
  try {
    analyser = LK.createAudioAnalyser(track, { cloneTrack: false });
  } catch (err) {
    log("meter unavailable", err.message, "warn");
    return;
  }
  const timer = setInterval(() => {
    const level = analyser.calculateVolume();
    $(meterId).value = level;
    devstack[peakKey] = Math.max(devstack[peakKey], level);
  }, 50);
  meters.push(() => { clearInterval(timer); analyser.cleanup(); $(meterId).value = 0; });
}

// One line per transcription segment: livekit-agents sends a person's interim transcripts
// and then the final one as separate streams of one segment (lk.segment_id), so each
// replaces the line it began rather than adding a line per guess.
const segments = new Map();

function addTranscript(from, text, isAgent, segment = "") {
  let li = segment ? segments.get(segment) : undefined;
  if (!li) {
    li = document.createElement("li");
    li.innerHTML = '<span class="from"></span><span class="text"></span>';
    $("transcript").append(li);
    if (segment) segments.set(segment, li);
  }
  li.querySelector(".from").textContent = from;
  li.querySelector(".from").classList.toggle("agent", isAgent);
  li.querySelector(".text").textContent = text;
  li.scrollIntoView({ block: "nearest" });
}

// ---- the flow --------------------------------------------------------------------------

// The steps of one dispatch, as the agent stamps them on itself (devstack/timeline.py).
const TIMELINE_STEPS = {
  accepted: "accept", assigned: "assignment", launched: "launch", entered: "entrypoint",
  connected: "ctx.connect()",
};

const timelineShown = new Set();
const BATCH_RACE_MS = 250;

function explainArrival(p) {
  // Server time of the join; all processes share this machine's clock.
  const joinedMs = Number(p.participantInfo?.joinedAtMs ?? 0);
  const stamps = (() => {
    try { return JSON.parse(p.attributes?.["devstack.timeline"] || "null"); } catch { return null; }
  })();
  if (stamps && stamps.received) {
    const seen = Object.entries(stamps)
      .filter(([key]) => key in TIMELINE_STEPS || key === "received")
      .sort((a, b) => a[1] - b[1]);
    const parts = seen.slice(1).map(([key, t], i) => `${TIMELINE_STEPS[key]} ${Math.round(t - seen[i][1])} ms`);
    const last = seen[seen.length - 1][1];
    parts.push(`visible here ${Math.round(Date.now() - last)} ms later`);
    log("agent timeline", `job request at the worker, then ${parts.join(", ")}`);
    timelineShown.add(p.identity);
    return;
  }
  // It arrived while this page was in the room, with neither a track nor a state: only the
  // server's periodic batch carries such a participant (PushAndDequeueUpdates, room.go).
  const announced = p.trackPublications.size > 0 || "lk.agent.state" in (p.attributes || {});
  const lateMs = joinedMs ? Date.now() - joinedMs : Infinity;
  // Not late: the batch happened to leave in the moment between its join and its state.
  if (!announced && lateMs > BATCH_RACE_MS) {
    const late = joinedMs ? `${lateMs} ms` : "a while";
    log("agent announced late", `seen ${late} after the server let it in: it publishes no track and set no attribute, so livekit-server told this page about it only in its batch every 3 s. Set an attribute (lk.agent.state) right after ctx.connect(), or publish a track.`, "warn");
  }
}

function agentJoined(p, arrived = false) {
  if (!p.isAgent) return;
  const name = p.attributes?.["lk.agent_name"] ?? p.attributes?.["lk.agent.name"] ?? "";
  const agentState = p.attributes?.["lk.agent.state"];
  log("agent joined", `${p.identity}${name ? ` (agent_name "${name}")` : ""}${agentState ? `, state ${agentState}` : ""}`, "ok");
  if (arrived) explainArrival(p);
  clearTimeout(waitTimer);
  setState("joined");
  $("diagnosis-card").hidden = true;
}

function wireRoom(r) {
  const E = LK.RoomEvent;
  r.on(E.ParticipantConnected, (p) => {
    if (!p.isAgent) log("participant joined", p.identity);
    agentJoined(p, true);
    renderParticipants();
  });
  r.on(E.ParticipantDisconnected, (p) => {
    log(p.isAgent ? "agent left" : "participant left", p.identity, p.isAgent ? "warn" : "");
    renderParticipants();
  });
  r.on(E.ParticipantAttributesChanged, (changed, p) => {
    if (p.isAgent && "lk.agent.state" in changed) log("agent state", changed["lk.agent.state"]);
    // Its timeline came after the agent itself (the server's batch was first): show it now.
    if (p.isAgent && "devstack.timeline" in changed && !timelineShown.has(p.identity)) explainArrival(p);
    renderParticipants();
  });
  r.on(E.TrackSubscribed, (track, _pub, p) => {
    if (track.kind === "audio") {
      $("audio-elements").append(track.attach());
      if (p.isAgent) {
        log("agent audio subscribed", `${p.identity} ${track.source}`, "ok");
        startMeter(track, "agent-level", "agentLevelPeak");
      }
    }
    renderParticipants();
  });
  r.on(E.TrackUnsubscribed, (track) => { track.detach().forEach((el) => el.remove()); renderParticipants(); });
  r.on(E.Disconnected, (reason) => {
    const name = LK.DisconnectReason?.[reason] ?? reason;
    log("disconnected", `reason: ${name}`, reason === LK.DisconnectReason?.CLIENT_INITIATED ? "" : "warn");
    cleanup();
  });
  const onText = (topic) => async (reader, { identity }) => {
    const text = await reader.readAll();
    const p = r.remoteParticipants.get(identity);
    const attributes = reader.info?.attributes ?? {};
    addTranscript(identity, text, !!p?.isAgent, attributes["lk.segment_id"] ?? "");
    // Interim guesses replace each other on the line; the log keeps the final words only.
    if (attributes["lk.transcription_final"] === "false") return;
    log(topic === "lk.chat" ? "chat received" : "transcript", `${identity}: ${text}`);
  };
  r.registerTextStreamHandler("lk.transcription", onText("lk.transcription"));
  r.registerTextStreamHandler("lk.chat", onText("lk.chat"));
}

async function connect(event) {
  event.preventDefault();
  if (room || state() === "connecting") return; // a second click while busy does nothing
  const mode = $("mode").value;
  const roomName = $("room").value.trim();
  const agentName = $("agent-name").value.trim();
  const timeoutS = Number($("timeout").value) || 20;
  devstack.log.length = 0;
  devstack.agentLevelPeak = devstack.micLevelPeak = 0;
  devstack.diagnosis = null;
  $("log").replaceChildren();
  $("transcript").replaceChildren();
  segments.clear();
  $("diagnosis-card").hidden = true;
  showBanner("");
  startedAt = performance.now();
  sessionStartedEpoch = Date.now() / 1000;
  failuresSince = null; // a new room, or the same name created anew
  setState("connecting");
  // The sessions page opens on this room's newest agent session.
  $("sessions-link").href = `/sessions?room=${encodeURIComponent(roomName)}`;
  log("connect clicked", `room "${roomName}", mode ${mode}${mode === "automatic" ? "" : `, agent "${agentName}"`}`);

  let details;
  try {
    const body = { room: roomName, dispatch: mode === "token" ? "token" : "none" };
    if ($("identity").value.trim()) body.identity = $("identity").value.trim();
    if (mode === "token") body.agent_name = agentName;
    details = await api("/api/token", body);
    log("token fetched", `identity ${details.identity}${mode === "token" ? `, roomConfig.agents = ["${agentName}"]` : ""}`);
    if (details.warning) log("token warning", details.warning, "warn");
  } catch (err) {
    return fail("token request failed", err);
  }

  room = new LK.Room({ adaptiveStream: false, dynacast: false });
  devstack.room = room;
  wireRoom(room);
  try {
    await room.connect(details.server_url, details.token);
  } catch (err) {
    const hint = /401|unauthori|expired|invalid token/i.test(err.message)
      ? "The token was refused: expired, or signed with keys the server does not have (LIVEKIT_API_KEY/SECRET)."
      : `Is livekit-server running at ${details.server_url}? Check GET /api/health.`;
    room = null;
    return fail("connect failed", Object.assign(err, { hint }));
  }
  log("connected", `${details.server_url} room sid ${await room.getSid()}`, "ok");
  $("chat-input").disabled = $("chat-send").disabled = false;
  $("add-agent").disabled = $("switch-agent").disabled = false;
  renderParticipants();
  setState("waiting");
  waitTimer = setTimeout(() => onTimeout(roomName, agentName, timeoutS), timeoutS * 1000);
  for (const p of room.remoteParticipants.values()) agentJoined(p);

  // Publish the mic and dispatch side by side, as a real app would: neither waits on the other.
  await Promise.all([publishMic(), mode === "explicit" ? dispatch(roomName, agentName) : Promise.resolve()]);
}

async function publishMic() {
  try {
    const pub = await room.localParticipant.setMicrophoneEnabled(true);
    log("mic published", pub?.track?.mediaStreamTrack?.label || "microphone", "ok");
    if (pub?.track) startMeter(pub.track, "mic-level", "micLevelPeak");
  } catch (err) {
    log("mic unavailable", `${err.name || "Error"}: ${err.message}. Continuing without a microphone; the agent can still join.`, "warn");
  }
}

async function dispatch(roomName, agentName) {
  if (!room) return;
  log("dispatch requested", `POST /api/dispatch-agent agent "${agentName}"`);
  try {
    const d = await api("/api/dispatch-agent", { room: roomName, agent_name: agentName });
    log(d.already_dispatched ? "dispatch reused" : "dispatch created", `${d.dispatch_id}: ${d.message}`, "ok");
    if (d.warning) log("dispatch warning", d.warning, "warn");
  } catch (err) {
    log("dispatch failed", `${err.message} ${err.hint || ""}`, "bad");
  }
}

async function onTimeout(roomName, agentName, timeoutS) {
  if (state() !== "waiting") return;
  setState("timeout");
  log("no agent", `no AGENT participant within ${timeoutS} s`, "bad");
  await showDiagnosis(roomName, agentName, false);
}

// What the worker's own log says about this room's jobs: a crash before the agent joined,
// or a session whose model services fail after it joined (the person hears nothing). Each
// is logged once, and the doctor's verdict with its fix is shown. The room itself is asked
// for once, for when it was created (an earlier room of that name's jobs are not this
// one's); then only the light endpoint, which asks the server nothing and reads the log on
// from where it stopped. A note (a plugin that needs LiveKit Cloud, such as its noise
// cancellation, running without it) is a warning, logged once per job and plugin; it blocks
// nothing, so it asks for no diagnosis.
const failuresSeen = new Set();
let failuresSince = null; // the joined room's created_at, epoch seconds; null: not known yet
async function refreshJobFailures(roomName) {
  let failures, notes;
  try {
    if (failuresSince === null) {
      const r = await api(`/api/rooms/${encodeURIComponent(roomName)}`);
      failuresSince = Number(r.created_at) || 0;
      failures = r.job_failures || [];
      notes = r.notes || [];
    } else {
      const r = await api(`/api/rooms/${encodeURIComponent(roomName)}/job-failures?since=${failuresSince}`);
      failures = r.job_failures;
      notes = r.notes || [];
    }
  } catch (err) {
    return;
  }
  for (const n of notes.filter((n) => !failuresSeen.has(`${n.job_id}:note:${n.plugin}`))) {
    failuresSeen.add(`${n.job_id}:note:${n.plugin}`);
    log("needs LiveKit Cloud", `${n.job_id}: ${n.text}`, "warn");
  }
  devstack.jobNotes = notes;
  const fresh = failures.filter((j) => !failuresSeen.has(`${j.job_id}:${j.kind}`));
  if (!fresh.length) return;
  for (const j of fresh) {
    failuresSeen.add(`${j.job_id}:${j.kind}`);
    const what = { crashed: "agent job crashed", model_files: "agent model files missing", session: "agent session failing" }[j.kind] || j.kind;
    log(what, `${j.job_id}: ${j.error}`, "bad");
  }
  devstack.jobFailures = failures;
  await showDiagnosis(roomName, $("agent-name").value.trim(), false);
}

async function showDiagnosis(roomName, agentName, probe) {
  $("diagnosis-card").hidden = false;
  $("verdict").textContent = probe ? "probing: dispatching into a throw-away room…" : "diagnosing…";
  $("checks").replaceChildren();
  const body = { room: roomName, probe };
  if ($("mode").value !== "automatic") body.agent_name = agentName;
  try {
    const d = await api("/api/diagnose", body);
    devstack.diagnosis = d;
    $("verdict").textContent = d.verdict;
    for (const c of d.checks) {
      const li = document.createElement("li");
      li.className = c.status;
      li.innerHTML = '<span class="mark"></span><span class="what"></span><div class="fix"></div>';
      li.querySelector(".mark").textContent = { pass: "✓", fail: "✗", warn: "!" }[c.status] || "?";
      li.querySelector(".what").textContent = `${c.title}: ${c.evidence}`;
      li.querySelector(".fix").textContent = c.status === "pass" ? "" : c.fix || "";
      $("checks").append(li);
    }
    log(probe ? "probe diagnosis" : "diagnosis", d.verdict, d.blocking ? "bad" : "ok");
  } catch (err) {
    // Without the diagnosis engine, show the raw state it would read.
    const [health, roomState] = await Promise.all([
      api("/api/health").catch((e) => ({ error: e.message })),
      api(`/api/rooms/${encodeURIComponent(roomName)}`).catch((e) => ({ error: e.message })),
    ]);
    devstack.diagnosis = { health, room: roomState };
    $("verdict").textContent = `diagnosis unavailable (${err.message}); raw state below`;
    $("raw-state").open = true;
  }
  $("raw").textContent = JSON.stringify(devstack.diagnosis, null, 2);
}

function fail(what, err) {
  log(what, `${err.message}${err.hint ? ` (${err.hint})` : ""}`, "bad");
  showBanner(`${what}: ${err.message}${err.hint ? `. ${err.hint}` : ""}`);
  setState("error");
  $("connect").disabled = false;
}

function cleanup() {
  clearTimeout(waitTimer);
  meters.forEach((stop) => stop());
  meters = [];
  $("audio-elements").replaceChildren();
  $("chat-input").disabled = $("chat-send").disabled = true;
  $("add-agent").disabled = $("switch-agent").disabled = true;
  room = null;
  devstack.room = null;
  renderParticipants();
  if (state() !== "error" && state() !== "timeout") setState("idle");
  else setState(state());
  $("connect").disabled = false;
}

async function disconnect() {
  if (!room) return;
  log("disconnect clicked");
  await room.disconnect();
}

async function sendChat(event) {
  event.preventDefault();
  const text = $("chat-input").value.trim();
  if (!text || !room) return;
  await room.localParticipant.sendText(text, { topic: "lk.chat" });
  addTranscript("you", text, false);
  log("chat sent", text);
  $("chat-input").value = "";
}

async function copyLog() {
  const text = devstack.log.map((e) => `+${e.t_ms} ms\t${e.event}\t${e.message}`).join("\n");
  try {
    await navigator.clipboard.writeText(text);
    $("copy-log").textContent = "copied";
  } catch {
    $("copy-log").textContent = "select + copy";
  }
  setTimeout(() => { $("copy-log").textContent = "copy log"; }, 1500);
}

async function init() {
  if (!LK) {
    showBanner("livekit-client did not load: run `make dev` (it installs the npm package) and reload.");
    setState("error");
    return;
  }
  try {
    config = await api("/api/config");
  } catch { /* defaults stay */ }
  const params = new URLSearchParams(location.search);
  $("agent-name").value = params.get("agent") ?? config.agent_name;
  $("room").value = params.get("room") ?? $("room").value;
  $("mode").value = params.get("mode") ?? (config.agent_name ? "explicit" : "automatic");
  $("timeout").value = params.get("timeout") ?? config.agent_wait_timeout;
  $("mode-help").textContent = MODE_HELP[$("mode").value];
  $("mode").addEventListener("change", () => { $("mode-help").textContent = MODE_HELP[$("mode").value]; markRegistered(); });
  $("connect-form").addEventListener("submit", connect);
  $("disconnect").addEventListener("click", disconnect);
  $("chat-form").addEventListener("submit", sendChat);
  $("copy-log").addEventListener("click", copyLog);
  $("agent-name").addEventListener("input", () => { nameEdited = true; markRegistered(); });
  // Fresh when someone is about to pick from it.
  $("agent-name").addEventListener("focus", refreshAgents);
  $("other-agent").addEventListener("focus", refreshAgents);
  $("add-agent").addEventListener("click", () => addAgent(false));
  $("switch-agent").addEventListener("click", () => addAgent(true));
  $("probe").addEventListener("click", () => showDiagnosis($("room").value.trim(), $("agent-name").value.trim(), true));
  setState("idle");
  await refreshStatus(); // and the agent list with it (followWorkers)
  await refreshDelivery(null);
  // The pills, and the agent list as workers register and go.
  setInterval(refreshStatus, 5000);
  // While connected, the watcher's events for this room join the event log within a second.
  // The room's node is only asked for with several nodes: on one node it says nothing new.
  setInterval(() => { if (room) { refreshDelivery(room.name); if (devstack.cluster) refreshRoomNode(room.name); } }, 1000);
  setInterval(() => { if (room) refreshJobFailures(room.name); }, 2000);
}

init();
