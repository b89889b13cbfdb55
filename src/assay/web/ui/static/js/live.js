// Submission page: follow a grading run over SSE, then swap the results in (no reload).
// The page passes its URLs in data-* attributes (CSP: no inline script).
(function () {
  "use strict";
  const TERMINAL = new Set(["done", "error", "cancelled"]);
  const STEP_OF = {
    queued: "queued", started: "building", cloning: "building", setup: "building",
    static: "building", building: "building", testing: "testing",
    done: "done", error: "done", cancelled: "done",
  };
  const ORDER = ["queued", "building", "testing", "done"];
  const REFUSED_RETRY_MS = 10000;  // a stream refused at once (429: too many open): wait
  let source = null;

  function root() { return document.getElementById("submission-body"); }

  function describe(ev) {
    switch (ev.stage) {
      case "queued": return ev.detail === "regrade" ? "Waiting in the queue (regrade)" : "Waiting in the queue";
      case "started": return "Starting";
      case "cloning": return "Fetching your repository";
      case "setup": return "Preparing the workspace";
      case "static": return "Checking the code";
      case "building": return "Building";
      case "testing":
        if (ev.current && ev.total) {
          return "Running test " + ev.current + " of " + ev.total + (ev.detail ? ": " + ev.detail : "");
        }
        return "Running tests";
      case "done": return "Done: loading your results";
      case "error": return "Grading stopped on our side: loading details";
      case "cancelled": return "Cancelled";
      default: return ev.stage;
    }
  }

  function show(ev) {
    const body = root();
    if (!body) return;
    const text = body.querySelector("[data-live-stage]");
    if (text) text.textContent = describe(ev);
    const bar = body.querySelector("[data-live-progress]");
    if (bar && ev.stage === "testing" && ev.total) {
      bar.max = ev.total;
      bar.value = Math.max(0, (ev.current || 1) - 1);
    } else if (bar && TERMINAL.has(ev.stage)) {
      bar.max = 1;
      bar.value = 1;
    }
    const step = STEP_OF[ev.stage];
    const reached = ORDER.indexOf(step);
    if (reached < 0) return;
    body.querySelectorAll("[data-step]").forEach(function (li) {
      const index = ORDER.indexOf(li.dataset.step);
      li.classList.toggle("is-done", index < reached || (index === reached && TERMINAL.has(ev.stage)));
      if (index === reached && !TERMINAL.has(ev.stage)) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
    });
  }

  function refresh() {
    const body = root();
    if (!body || !window.htmx) { window.location.reload(); return; }
    window.htmx.ajax("GET", body.dataset.resultsUrl, { target: "#submission-body", swap: "innerHTML" })
      .then(function () {
        document.querySelectorAll("[data-regrade]").forEach(function (b) { b.disabled = false; });
        follow();
      });
  }

  function follow() {
    const body = root();
    if (!body || !body.querySelector("[data-live]") || !window.EventSource) return;
    if (source) source.close();
    source = new EventSource(body.dataset.eventsUrl);
    let opened = false;
    source.onopen = function () { opened = true; };
    source.onmessage = function (message) {
      let ev;
      try { ev = JSON.parse(message.data); } catch (e) { return; }
      show(ev);
      if (TERMINAL.has(ev.stage)) {
        source.close();
        source = null;
        refresh();
      }
    };
    source.onerror = function () {
      // The server ended the stream and answers 204 to the reconnect: the run is over.
      // Refused before it ever opened (429: this user has too many streams open): the
      // same, but later, so a page over the limit does not ask again and again.
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
        if (opened) refresh(); else window.setTimeout(refresh, REFUSED_RETRY_MS);
      }
    };
  }

  // A link to a line (#f1-L12) opens the file it is in and brings the line into view.
  function reveal() {
    const id = decodeURIComponent(window.location.hash.slice(1));
    const target = id && document.getElementById(id);
    if (!target) return;
    const details = target.closest("details");
    if (details && !details.open) {
      details.open = true;
      target.scrollIntoView({ block: "center" });
    }
  }

  document.addEventListener("DOMContentLoaded", function () { follow(); reveal(); });
  window.addEventListener("hashchange", reveal);
})();
