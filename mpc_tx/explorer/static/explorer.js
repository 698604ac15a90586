// mpcvote explorer: the only script, served from 'self' (the CSP forbids inline script).
// It writes chain data with textContent only, never as HTML.
"use strict";
(function () {
  const MAX_REFRESHES = 720;   // an hour at 5 s, then a page stops asking
  const MAX_VERIFY_POLLS = 60;

  function pick(doc, path) {
    return path.split(".").reduce((o, k) => (o == null ? o : o[k]), doc);
  }

  // Live fields: re-read this page's ?format=json view and update [data-live] elements.
  const every = Number(document.body.dataset.refresh || 0);
  let refreshes = 0;
  async function refresh() {
    if (++refreshes > MAX_REFRESHES) return;
    try {
      const url = new URL(location.href);
      url.searchParams.set("format", "json");
      const r = await fetch(url, { headers: { Accept: "application/json" } });
      if (r.ok) {
        const doc = await r.json();
        document.querySelectorAll("[data-live]").forEach((el) => {
          const v = pick(doc, el.dataset.live);
          if (v !== undefined && v !== null) el.textContent = String(v);
        });
      }
    } catch (e) { /* a node or the explorer is down: keep what is shown */ }
    setTimeout(refresh, every * 1000);
  }
  if (every > 0) setTimeout(refresh, every * 1000);

  // The verify panel: follow the background run until it is done.
  const panel = document.getElementById("verify");
  let polls = 0;
  async function follow() {
    if (!panel || ++polls > MAX_VERIFY_POLLS) return;
    try {
      const r = await fetch("/poll/" + encodeURIComponent(panel.dataset.poll) + "/verify");
      const st = await r.json();
      document.getElementById("verify-status").textContent = st.status + (st.detail ? ": " + st.detail : "");
      const list = document.getElementById("verify-checks");
      list.replaceChildren(...(st.checks || []).map((c) => {
        const li = document.createElement("li");
        li.className = c.ok === true ? "ok" : c.ok === false ? "bad" : "muted";
        li.textContent = c.name + ": " + c.detail;
        return li;
      }));
      panel.dataset.status = st.status;
      if (st.status === "running" || st.status === "busy") setTimeout(follow, 1000);
    } catch (e) { setTimeout(follow, 2000); }
  }
  if (panel && ["running", "busy"].includes(panel.dataset.status)) setTimeout(follow, 500);
})();
