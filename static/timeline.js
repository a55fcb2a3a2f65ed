// One session's timeline, as Agent Insights draws it: the dispatch steps, every span as a
// bar of a waterfall (turns marked), the logs and the transcript interleaved by time, and
// each error at the place it happened. Pure DOM from the /api/sessions/{job_id} body.

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};

export function flattenSpans(roots, depth = 0, out = []) {
  for (const span of roots) {
    out.push({ ...span, depth });
    flattenSpans(span.children || [], depth + 1, out);
  }
  return out;
}

export function entries(session) {
  const rows = [];
  // A row without a time (0 or missing) would stretch the scale from 1970: left out.
  for (const step of session.dispatch?.steps || []) {
    rows.push({ kind: "step", at: step.at, name: step.step, text: step.detail });
  }
  for (const span of flattenSpans(session.spans)) {
    const failed = span.status.startsWith("error");
    rows.push({
      kind: span.name.endsWith("_turn") ? "turn" : "span",
      at: span.start,
      end: span.start + span.duration_ms / 1000,
      depth: span.depth,
      name: span.name,
      text: failed ? span.status : `${span.duration_ms.toFixed(0)} ms`,
      error: failed,
    });
  }
  for (const log of session.logs) {
    const error = ["ERROR", "FATAL", "CRITICAL"].includes(log.severity);
    rows.push({ kind: "log", at: log.at, name: `${log.severity.toLowerCase()} ${log.logger}`, text: log.message, error });
  }
  for (const m of session.transcript) {
    if (m.at) rows.push({ kind: "message", at: m.at, name: m.role, text: m.text });
  }
  // Stable: a parent span and its child starting in the same instant keep tree order.
  return rows.filter((r) => r.at > 0).map((r, i) => [r, i]).sort((a, b) => a[0].at - b[0].at || a[1] - b[1]).map(([r]) => r);
}

export function renderTimeline(container, session) {
  const rows = entries(session);
  container.replaceChildren();
  if (!rows.length) {
    container.append(el("div", "empty", "Nothing uploaded yet."));
    return;
  }
  const t0 = Math.min(...rows.map((r) => r.at));
  const t1 = Math.max(...rows.map((r) => r.end || r.at));
  const span = Math.max(t1 - t0, 0.001);
  const pct = (t) => `${(((t - t0) / span) * 100).toFixed(3)}%`;
  for (const r of rows) {
    const row = el("div", `row ${r.kind}${r.error ? " error" : ""}`);
    row.dataset.kind = r.kind;
    row.append(el("span", "t", `+${(r.at - t0).toFixed(2)}s`));
    const name = el("span", "name", r.name);
    name.style.paddingLeft = `${(r.depth || 0) * 10}px`;
    name.title = r.name;
    row.append(name);
    const lane = el("span", "lane");
    if (r.end !== undefined) {
      const bar = el("span", `bar ${r.kind}${r.error ? " error" : ""}`);
      bar.style.left = pct(r.at);
      bar.style.width = `calc(${pct(r.end)} - ${pct(r.at)})`;
      bar.title = `${r.name}: ${r.text}`;
      lane.append(bar);
      const text = el("span", "text", r.text);
      // A bar that runs to the right edge carries its text inside, from its start.
      const late = (r.end - t0) / span > 0.75;
      text.style.marginLeft = late ? `calc(${pct(r.at)} + 4px)` : pct(r.end);
      text.style.position = "relative";
      lane.append(text);
    } else {
      const tick = el("span", "tick");
      tick.style.left = pct(r.at);
      lane.append(tick, Object.assign(el("span", "text", r.text), { title: r.text }));
      lane.lastChild.style.marginLeft = `calc(${pct(r.at)} + 6px)`;
    }
    row.append(lane);
    container.append(row);
  }
}
