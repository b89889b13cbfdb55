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
