// Assignment page: submit tabs, drag-and-drop upload, CodeMirror editors.
// Everything here is an enhancement: without it both plain forms still work.
(function () {
  "use strict";

  // Tabs: Editor | Upload files (WAI-ARIA tabs, arrow keys move between them).
  function setupTabs() {
    const list = document.querySelector("[data-tabs]");
    if (!list) return;
    const tabs = Array.from(list.querySelectorAll("[role=tab]"));
    function select(tab, focus) {
      tabs.forEach(function (t) {
        const on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        t.tabIndex = on ? 0 : -1;
        document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
      });
      if (focus) tab.focus();
      document.dispatchEvent(new CustomEvent("assay:tab", { detail: tab.id }));
    }
    tabs.forEach(function (tab, index) {
      tab.addEventListener("click", function () { select(tab, false); });
      tab.addEventListener("keydown", function (event) {
        let next = null;
        if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
        if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
        if (event.key === "Home") next = tabs[0];
        if (event.key === "End") next = tabs[tabs.length - 1];
        if (next) { event.preventDefault(); select(next, true); }
      });
    });
    list.hidden = false;
    const chosen = tabs.find(function (t) { return t.getAttribute("aria-selected") === "true"; });
    select(chosen || tabs[0], false);
  }

  // Upload: drop files on the zone (or choose them); show what will be sent.
  function sizeText(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1048576) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / 1048576).toFixed(1) + " MB";
  }
  function setupUpload() {
    const form = document.querySelector("[data-upload]");
    if (!form) return;
    const input = form.querySelector("[data-file-input]");
    const zone = form.querySelector("[data-dropzone]");
    const list = form.querySelector("[data-chosen]");
    const button = form.querySelector("[data-upload-submit]");
    form.classList.add("enhanced");
    function show() {
      list.replaceChildren();
      Array.from(input.files).forEach(function (file) {
        const item = document.createElement("li");
        item.textContent = file.name;  // text, never HTML
        const size = document.createElement("span");
        size.textContent = sizeText(file.size);
        item.appendChild(size);
        list.appendChild(item);
      });
      button.disabled = input.files.length === 0;
    }
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        show();
      }
    });
    input.addEventListener("change", show);
    form.addEventListener("submit", function () { button.disabled = true; button.textContent = "Uploading…"; });
    show();
  }

  // Editor: CodeMirror over each textarea (the textarea stays the form field).
  const MODES = {
    py: "python", c: "text/x-csrc", h: "text/x-csrc", cpp: "text/x-c++src", cc: "text/x-c++src",
    hpp: "text/x-c++src", java: "text/x-java",
  };
  function setupEditors() {
    const areas = document.querySelectorAll("textarea[data-editor]");
    if (!areas.length || typeof window.CodeMirror !== "function") return;
    const editors = [];
    areas.forEach(function (area) {
      const ext = (area.dataset.path.split(".").pop() || "").toLowerCase();
      const editor = window.CodeMirror.fromTextArea(area, {
        mode: MODES[ext] || null,
        lineNumbers: true,
        indentUnit: 4,
        tabSize: 4,
        indentWithTabs: false,
        viewportMargin: Infinity,
        screenReaderLabel: area.dataset.path,
        extraKeys: {
          Tab: function (cm) {
            if (cm.somethingSelected()) cm.indentSelection("add");
            else cm.replaceSelection(" ".repeat(cm.getOption("indentUnit")));
          },
          "Shift-Tab": function (cm) { cm.indentSelection("subtract"); },
          Esc: function (cm) { cm.getInputField().blur(); },  // leave the editor by keyboard
          "Ctrl-Enter": function () { area.form.requestSubmit(); },
          "Cmd-Enter": function () { area.form.requestSubmit(); },
        },
      });
      editor.getInputField().setAttribute("aria-label", "Contents of " + area.dataset.path);
      // the editor grows with its text; long lines scroll sideways, reachable by keyboard too
      const scroller = editor.getScrollerElement();
      scroller.tabIndex = 0;
      editors.push(editor);
    });
    document.addEventListener("assay:tab", function () {
      editors.forEach(function (e) { e.refresh(); });
    });
    const form = areas[0].form;
    form.addEventListener("submit", function () {
      editors.forEach(function (e) { e.save(); });
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      button.textContent = "Submitting…";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupTabs();
    setupUpload();
    setupEditors();
  });
})();
