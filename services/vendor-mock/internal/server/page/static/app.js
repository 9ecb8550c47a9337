// The control page: shows the fault configuration and live counters, and
// changes the configuration through the admin API. Plain JavaScript, no
// build step.
"use strict";

const $ = (id) => document.getElementById(id);
const PRESETS = ["healthy", "degraded", "slow", "flaky", "outage"];

// formDirty is set while the user edits the form, so that polling does not
// overwrite what they are typing.
let formDirty = false;
let current = null;

function showMessage(text, kind) {
  const m = $("message");
  m.textContent = text;
  m.className = "message " + kind;
  m.hidden = false;
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    throw new Error(data.error || resp.status + " " + resp.statusText);
  }
  return data;
}

function renderConfig(cfg) {
  current = cfg;
  const badge = $("current-preset");
  badge.textContent = cfg.preset;
  badge.className = "badge " + cfg.preset;
  for (const name of PRESETS) {
    $("preset-" + name).classList.toggle("active", cfg.preset === name && Object.keys(cfg.routes || {}).length === 0);
  }
  $("config-json").textContent = JSON.stringify(cfg, null, 2);
  if (!formDirty) {
    fillForm(cfg.global);
  }
}

function fillForm(g) {
  $("latency-min").value = g.latency.min;
  $("latency-max").value = g.latency.max;
  $("jitter").value = g.jitter;
  $("degraded-probability").value = g.degraded.probability;
  $("degraded-min").value = g.degraded.latency.min;
  $("degraded-max").value = g.degraded.latency.max;
  $("error-probability").value = g.error.probability;
  $("error-status").value = g.error.status;
  $("hang-probability").value = g.hang.probability;
  $("hang-timeout").value = g.hang.timeout;
}

function readForm() {
  const num = (id) => Number($(id).value);
  const str = (id) => $(id).value.trim();
  return {
    latency: { min: str("latency-min"), max: str("latency-max") },
    jitter: str("jitter"),
    degraded: { probability: num("degraded-probability"), latency: { min: str("degraded-min"), max: str("degraded-max") } },
    error: { probability: num("error-probability"), status: num("error-status") },
    hang: { probability: num("hang-probability"), timeout: str("hang-timeout") },
  };
}

const fmt = (n) => n.toLocaleString("en-US");
const share = (n, total) => (total > 0 ? ((100 * n) / total).toFixed(1) + "% of calls" : "");

function renderStats(s) {
  $("count-requests").textContent = fmt(s.requests);
  $("count-degraded").textContent = fmt(s.degraded);
  $("count-errors").textContent = fmt(s.errors);
  $("count-hangs").textContent = fmt(s.hangs);
  $("count-cancelled").textContent = fmt(s.cancelled);
  $("count-inflight").textContent = fmt(s.in_flight);
  $("share-degraded").textContent = share(s.degraded, s.requests);
  $("share-errors").textContent = share(s.errors, s.requests);
  $("share-hangs").textContent = share(s.hangs, s.requests);

  const paths = Object.keys(s.routes || {}).sort();
  const body = $("routes-body");
  body.replaceChildren();
  if (paths.length === 0) {
    const tr = body.insertRow();
    const td = tr.insertCell();
    td.colSpan = 6;
    td.className = "empty";
    td.textContent = "no vendor calls yet";
    return;
  }
  for (const p of paths) {
    const r = s.routes[p];
    const tr = body.insertRow();
    for (const v of [p, fmt(r.requests), fmt(r.degraded), fmt(r.errors), fmt(r.hangs), fmt(r.cancelled)]) {
      tr.insertCell().textContent = v;
    }
  }
}

async function poll() {
  try {
    const [stats, cfg] = await Promise.all([api("GET", "/stats"), api("GET", "/admin/faults")]);
    renderStats(stats);
    renderConfig(cfg);
    $("live").classList.remove("stale");
  } catch (e) {
    $("live").classList.add("stale");
  }
}

async function change(method, path, body, what) {
  try {
    const cfg = await api(method, path, body);
    formDirty = false;
    renderConfig(cfg);
    showMessage(what + ": preset is now " + cfg.preset + ".", "ok");
  } catch (e) {
    showMessage(what + " rejected: " + e.message, "error");
  }
}

for (const name of PRESETS) {
  $("preset-" + name).addEventListener("click", () =>
    change("POST", "/admin/faults/presets/" + name, undefined, "Preset " + name));
}
$("global-form").addEventListener("input", () => { formDirty = true; });
$("global-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  change("PATCH", "/admin/faults", { global: readForm() }, "Global rule");
});
$("revert-form").addEventListener("click", () => {
  formDirty = false;
  if (current) fillForm(current.global);
});
$("reset-default").addEventListener("click", () =>
  change("DELETE", "/admin/faults", undefined, "Reset"));

poll();
setInterval(poll, 1000);
