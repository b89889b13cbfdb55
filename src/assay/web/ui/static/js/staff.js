// Staff pages: forms that take a while say so and cannot be sent twice.
// No inline scripts (CSP): behaviour hangs on data-* attributes.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-busy]");
    if (!form || event.defaultPrevented) return;
    const button = form.querySelector("button[type=submit]");
    if (!button) return;
    // disable after the browser has collected the form, so the submission still happens
    setTimeout(function () {
      button.disabled = true;
      button.textContent = form.dataset.busy;
    }, 0);
  });
})();

// Date fields: the server sends UTC (data-utc); they are shown and typed in the
// browser's own time zone, whose name goes along in the hidden "tz" field. Without
// JavaScript the fields stay in UTC and tz says so: still one zone for both ways.
(function () {
  "use strict";
  function pad(n) { return String(n).padStart(2, "0"); }
  function localValue(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes());
  }
  function zoned(fieldset) {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) return;
    fieldset.querySelectorAll("input[data-utc]").forEach(function (input) {
      const moment = new Date(input.dataset.utc);
      if (!isNaN(moment.getTime())) input.value = localValue(moment);
    });
    fieldset.querySelector("input[data-tz]").value = zone;
    fieldset.querySelector("[data-tz-name]").textContent = "your time zone, " + zone;
  }
  function start() { document.querySelectorAll("fieldset[data-zoned-dates]").forEach(zoned); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
