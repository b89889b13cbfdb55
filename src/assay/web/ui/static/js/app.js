// Assay UI: behaviour shared by every page. No inline scripts anywhere (CSP).
(function () {
  "use strict";
  const csrf = document.body.dataset.csrfToken || "";

  // htmx requests carry the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    if (csrf) event.detail.headers["X-CSRF-Token"] = csrf;
  });

  // <time data-local datetime="ISO">: shown in the reader's own time zone.
  function localTimes(root) {
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      el.textContent = when.toLocaleString(undefined, {
        dateStyle: "medium", timeStyle: "short",
      });
      el.title = when.toISOString();
    });
  }

  // <span data-countdown="ISO">: time left until then, refreshed every second.
  function describe(ms) {
    if (ms <= 0) return "closed";
    const s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d > 0) return d + "d " + h + "h " + m + "m left";
    if (h > 0) return h + "h " + m + "m left";
    return m + "m " + sec + "s left";
  }
  function countdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      const due = new Date(el.dataset.countdown);
      if (isNaN(due)) return;
      const left = due - Date.now();
      el.textContent = describe(left);
      el.classList.toggle("badge-warn", left > 0 && left < 86400000);
      el.classList.toggle("badge-bad", left <= 0);
    });
  }

  // A box that scrolls (a long log in <pre>, a wide table) must be reachable by
  // keyboard, or its hidden part is out of reach without a mouse: give it a tab
  // stop, and a name for screen readers if it has none.
  function scrollables(root) {
    root.querySelectorAll("pre, .table-wrap, [data-scroll]").forEach(function (el) {
      const scrolls = el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
      if (!scrolls || el.hasAttribute("tabindex") || el.querySelector("a, button, input, select, textarea, [tabindex]")) return;
      el.tabIndex = 0;
      if (!el.hasAttribute("aria-label") && !el.hasAttribute("aria-labelledby")) {
        el.setAttribute("role", el.getAttribute("role") || "region");
        el.setAttribute("aria-label", el.dataset.scroll || (el.tagName === "PRE" ? "Scrollable output" : "Scrollable table"));
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    countdowns();
    scrollables(document);
    setInterval(countdowns, 1000);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    localTimes(event.target);
    scrollables(event.target);
  });
  // <details> opened later: its contents only now have a size.
  document.addEventListener("toggle", function (event) {
    if (event.target.open) scrollables(event.target);
  }, true);

  // Confirm dangerous buttons: <button data-confirm="Regrade all 120 submissions?">
  document.addEventListener("click", function (event) {
    const target = event.target.closest("[data-confirm]");
    if (target && !window.confirm(target.dataset.confirm)) event.preventDefault();
  });

  window.Assay = { csrf: csrf, localTimes: localTimes, scrollables: scrollables };
})();
