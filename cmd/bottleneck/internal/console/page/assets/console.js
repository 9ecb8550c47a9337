// The console's only script: refresh the live fragment once a second and
// send the controls to the console's proxy of the admin APIs.
(function () {
  "use strict";
  const live = document.getElementById("live");
  const dot = document.getElementById("live-dot");
  const status = document.getElementById("live-status");
  const message = document.getElementById("message");
  let seq = live.dataset.seq;
  let failures = 0;

  function setStatus(kind, text) {
    dot.className = "dot " + kind;
    status.textContent = text;
  }

  // Hovering the timeline pauses the refresh, so a tooltip stays put.
  function hovering() {
    return live.querySelector(".timeline:hover") !== null;
  }

  async function refresh() {
    if (hovering()) {
      setStatus("paused", "paused while you hover the timeline");
      return;
    }
    try {
      const r = await fetch("/fragment", { headers: { "If-None-Match": '"' + seq + '"' }, cache: "no-store" });
      if (r.status === 200) {
        const chainOpen = live.querySelector("details.chain[open]") !== null;
        live.innerHTML = await r.text();
        if (chainOpen) {
          const d = live.querySelector("details.chain");
          if (d) d.open = true;
        }
        const f = live.querySelector(".fragment");
        if (f) seq = f.dataset.seq;
        markPreset();
      } else if (r.status !== 304) {
        throw new Error("HTTP " + r.status);
      }
      failures = 0;
      setStatus("ok", "live · updated " + new Date().toLocaleTimeString());
    } catch (e) {
      failures++;
      setStatus("err", "console not answering (" + e.message + "); retrying");
    }
  }
  setInterval(refresh, 1000);

  function markPreset() {
    const now = document.getElementById("now-preset");
    document.querySelectorAll(".preset").forEach(function (b) {
      b.classList.toggle("current", now !== null && b.dataset.preset === now.textContent);
      b.setAttribute("aria-pressed", b.classList.contains("current") ? "true" : "false");
    });
  }
  markPreset();

  function show(ok, text) {
    message.className = "message " + (ok ? "ok" : "err");
    message.textContent = text;
  }

  // send POSTs to the console's proxy; it answers with the service's own
  // status and body.
  async function send(path, body) {
    const r = await fetch("/api/control/" + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
    let data = null;
    const text = await r.text();
    try { data = JSON.parse(text); } catch (_) { /* not JSON */ }
    if (!r.ok) {
      const why = data && data.error ? data.error : text.trim() || r.statusText;
      throw new Error(why + " (HTTP " + r.status + ")");
    }
    return data;
  }

  async function act(label, fn) {
    show(true, label + " …");
    try {
      const out = await fn();
      show(true, label + ": done" + (out ? "\n" + out : ""));
      refresh();
    } catch (e) {
      show(false, label + ": " + e.message);
    }
  }

  document.addEventListener("click", function (ev) {
    const fix = ev.target.closest("[data-fix]");
    if (fix) {
      const body = JSON.parse(fix.dataset.body);
      act("apply " + fix.dataset.setting + " on " + fix.dataset.service, async function () {
        const done = [];
        await send("config/" + fix.dataset.service, body);
        done.push(fix.dataset.service + " ← " + fix.dataset.body);
        if (fix.dataset.also) {
          for (const more of JSON.parse(fix.dataset.also)) {
            await send("config/" + more.service, more.body);
            done.push(more.service + " ← " + JSON.stringify(more.body));
          }
        }
        return done.join("\n");
      });
      return;
    }
    const preset = ev.target.closest("[data-preset]");
    if (preset) {
      act("vendor preset " + preset.dataset.preset, async function () {
        await send("preset/" + preset.dataset.preset);
        return null;
      });
    }
  });

  function formBody(form) {
    const body = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      const v = el.value.trim();
      if (v === "") continue;
      if (el.hasAttribute("data-int")) body[el.name] = Number.isInteger(Number(v)) ? Number(v) : v;
      else if (el.hasAttribute("data-num")) body[el.name] = isNaN(Number(v)) ? v : Number(v);
      else if (el.hasAttribute("data-mix")) {
        const mix = {};
        for (const part of v.split(",")) {
          const kv = part.split("=");
          mix[kv[0].trim()] = kv.length > 1 && !isNaN(Number(kv[1])) ? Number(kv[1]) : kv[1];
        }
        body[el.name] = mix;
      } else body[el.name] = v;
    }
    return body;
  }

  document.querySelectorAll("form[data-target]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      const target = form.dataset.target;
      const body = formBody(form);
      const path = target === "load" ? "load" : "config/" + target;
      act("apply to " + (target === "load" ? "producer load" : target), async function () {
        const out = await send(path, body);
        return out ? JSON.stringify(out) : null;
      });
    });
  });

  const burst = document.getElementById("run-burst");
  if (burst) {
    burst.addEventListener("click", function () {
      burst.disabled = true;
      act("checkout burst", async function () {
        try {
          const out = await send("checkout");
          return out && out.summary ? out.summary : null;
        } finally {
          burst.disabled = false;
        }
      });
    });
  }
})();
