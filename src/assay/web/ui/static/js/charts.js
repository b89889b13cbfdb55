// Assignment analytics: draws the three charts from the page's JSON block
// (<script type="application/json" id="analytics-data">, an AnalyticsOut).
// No inline script or style (CSP): colours come from the design system's CSS
// variables, so dark mode works; every chart also has a table on the page.
(function () {
  "use strict";

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function palette() {
    return {
      accent: css("--accent"), ok: css("--ok"), bad: css("--bad"), warn: css("--warn"),
      muted: css("--muted"), border: css("--border"), text: css("--text"),
    };
  }

  function percent(value) { return Math.round(value * 100) + "%"; }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  // A dashed vertical line at the due date: between bucket -1 and bucket 0.
  function dueLine(colors, dueIndex) {
    return {
      id: "assayDueLine",
      afterDatasetsDraw: function (chart) {
        if (dueIndex < 0) return;
        const x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
        const at = dueIndex === 0
          ? area.left
          : (x.getPixelForValue(dueIndex - 1) + x.getPixelForValue(dueIndex)) / 2;
        ctx.save();
        ctx.strokeStyle = colors.bad;
        ctx.lineWidth = 2;
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        ctx.moveTo(at, area.top);
        ctx.lineTo(at, area.bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = colors.bad;
        ctx.font = "600 12px " + Chart.defaults.font.family;
        ctx.textAlign = at > area.right - 30 ? "right" : "center";
        ctx.textBaseline = "bottom";
        ctx.fillText("Due", ctx.textAlign === "right" ? area.right : at, area.top - 3);
        ctx.restore();
      },
    };
  }

  function timeline(canvas, data, colors) {
    const buckets = data.timeline.buckets;
    const dueIndex = data.timeline.anchored_on_due
      ? buckets.findIndex(function (b) { return b.offset === 0; })
      : -1;
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: buckets.map(function (b) { return b.label; }),
        datasets: [
          { label: "On time", data: buckets.map(function (b) { return b.on_time; }),
            backgroundColor: colors.accent, borderRadius: 3, stack: "s" },
          { label: "Late", data: buckets.map(function (b) { return b.late; }),
            backgroundColor: colors.warn, borderRadius: 3, stack: "s" },
        ],
      },
      options: {
        maintainAspectRatio: false,
        layout: { padding: { top: 18 } },  // room for the "Due" label
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function (items) {
                const b = buckets[items[0].dataIndex];
                const start = new Date(b.start).toLocaleString(undefined,
                  { dateStyle: "medium", timeStyle: "short" });
                return b.label + " (from " + start + ")";
              },
              footer: function (items) {
                return plural(buckets[items[0].dataIndex].students, "student");
              },
            },
          },
        },
        scales: {
          x: { stacked: true, grid: { display: false },
               ticks: { autoSkip: true, maxRotation: 0, autoSkipPadding: 10 } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 },
               grid: { color: colors.border },
               title: { display: true, text: "submissions" } },
        },
      },
      plugins: [dueLine(colors, dueIndex)],
    });
  }

  function rateColor(rate, colors) {
    if (rate < 0.5) return colors.bad;
    if (rate < 0.8) return colors.warn;
    return colors.ok;
  }

  function tests(canvas, data, colors) {
    const rows = data.tests;
    // one bar per test: the box grows with the number of tests
    canvas.parentElement.style.height = Math.max(180, rows.length * 30 + 50) + "px";
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map(function (t) { return t.group ? t.group + " / " + t.name : t.name; }),
        datasets: [{
          label: "Pass rate",
          data: rows.map(function (t) { return Math.round(t.pass_rate * 1000) / 10; }),
          backgroundColor: rows.map(function (t) { return rateColor(t.pass_rate, colors); }),
          borderRadius: 3,
          barPercentage: 0.8,
        }],
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (item) {
                const t = rows[item.dataIndex];
                return "passed by " + t.passed + " of " + plural(t.students, "student") +
                  " (" + percent(t.pass_rate) + ")" + (t.visibility === "hidden" ? ", hidden" : "");
              },
            },
          },
        },
        scales: {
          x: { min: 0, max: 100, grid: { color: colors.border },
               ticks: { callback: function (v) { return v + "%"; } } },
          y: { grid: { display: false }, ticks: { autoSkip: false } },
        },
      },
    });
  }

  function fullMarks(canvas, data, colors) {
    const bins = data.time_to_full.bins;
    const last = bins.length - 1;
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: bins.map(function (b) { return b.label; }),
        datasets: [{
          label: "Students",
          data: bins.map(function (b) { return b.students; }),
          backgroundColor: bins.map(function (_, i) {
            if (i === 0) return colors.ok;
            return i === last ? colors.muted : colors.accent;
          }),
          borderRadius: 3,
          barPercentage: 0.8,
        }],
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (item) { return plural(item.raw, "student"); } } },
        },
        scales: {
          x: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: colors.border },
               title: { display: true, text: "students" } },
          y: { grid: { display: false }, ticks: { autoSkip: false } },
        },
      },
    });
  }

  function draw() {
    const block = document.getElementById("analytics-data");
    if (!block || typeof Chart === "undefined") return;
    const data = JSON.parse(block.textContent);
    const colors = palette();
    Chart.defaults.color = colors.muted;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    if (window.matchMedia("(prefers-reduced-motion: reduce)").matches) {
      Chart.defaults.animation = false;
    }
    const charts = [
      ["chart-timeline", timeline],
      ["chart-tests", tests],
      ["chart-full", fullMarks],
    ];
    charts.forEach(function (entry) {
      const canvas = document.getElementById(entry[0]);
      if (canvas) entry[1](canvas, data, colors);
    });
    document.body.dataset.chartsReady = "true";  // for tests: every chart is drawn
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
