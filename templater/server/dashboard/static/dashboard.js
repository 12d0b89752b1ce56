// Live updates for the workspaces page: the page works without this script; with it, health,
// agents and ports change in place as the server's events say, and port shares save in place.
"use strict";

(() => {
  const live = document.getElementById("workspaces");
  const status = document.getElementById("live-status");
  if (!live) return;

  let refreshing = null;
  let again = false;

  // Put `fresh` in place of `old`; the control being used inside it keeps its focus and what
  // was typed or chosen in it.
  function replace(old, fresh) {
    const focused = document.activeElement;
    let twin = null;
    if (focused && focused.id && old.contains(focused)) {
      twin = fresh.querySelector("#" + CSS.escape(focused.id));
      if (twin && "value" in focused) twin.value = focused.value;
    }
    old.replaceWith(fresh);
    if (twin) twin.focus();
  }

  // Swap in the regions of a fresh copy of this page: all of the list when workspaces or agents
  // came or went, else each region that changes by itself.
  function swap(html) {
    const fresh = new DOMParser().parseFromString(html, "text/html");
    const next = fresh.getElementById("workspaces");
    const current = document.getElementById("workspaces");
    if (!next || !current) return;
    if (next.dataset.shape !== current.dataset.shape) {
      replace(current, next);
    } else {
      for (const region of next.querySelectorAll("[data-live][id]")) {
        const old = document.getElementById(region.id);
        if (old) replace(old, region);
      }
    }
    const shared = fresh.getElementById("shared");
    const oldShared = document.getElementById("shared");
    if (shared && oldShared) replace(oldShared, shared);
  }

  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = fetch(location.pathname + location.search, { headers: { Accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then(swap)
      .catch(() => {})
      .finally(() => {
        refreshing = null;
        if (again) { again = false; refresh(); }
      });
  }

  // Events come in bursts (a workspace's apps turn healthy together): one refresh for a burst,
  // and at most one a second however many agents an admin's page follows.
  let timer = null;
  let last = 0;
  function soon() {
    if (timer) return;
    const wait = Math.max(150, last + 1000 - Date.now());
    timer = setTimeout(() => { timer = null; last = Date.now(); refresh(); }, wait);
  }

  if (window.EventSource) {
    const events = new EventSource("/dashboard/events");
    for (const kind of ["health", "agent", "ports"]) events.addEventListener(kind, soon);
    // Tests, and anyone curious, can tell that the page follows the events.
    events.addEventListener("open", () => { document.body.dataset.events = "connected"; });
  }
  // Times read "3 min ago": keep them true.
  setInterval(refresh, 60000);

  // Shares save in place; the answer is the page again, whose regions replace these.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-inplace")) return;
    event.preventDefault();
    const data = new FormData(form);
    const port = data.get("port");
    status.textContent = `Saving port ${port}…`;
    try {
      const response = await fetch(form.action, { method: "POST", body: new URLSearchParams(data) });
      const html = await response.text();
      if (!response.ok) {
        const page = new DOMParser().parseFromString(html, "text/html");
        const said = page.querySelector("main p");
        status.textContent = `Port ${port} was not changed: ${said ? said.textContent : response.status}`;
        return;
      }
      swap(html);
      const share = data.get("share");
      status.textContent = share === "owner"
        ? `Port ${port} is no longer shared.`
        : `Port ${port} is shared: ${share}.`;
    } catch (problem) {
      status.textContent = `Port ${port} was not changed: the server could not be reached.`;
    }
  });

  // open_in = "slim-window": a window without the browser's tabs and toolbars.
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a[data-slim]") : null;
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    window.open(link.href, "_blank", "popup,width=1280,height=800,noopener");
  });
})();
