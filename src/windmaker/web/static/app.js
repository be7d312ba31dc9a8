// Draws every chart on the page from the JSON in its data-chart attribute (ECharts option). Number
// formatting comes from the option's "wm" key (format.js); the size from the container's CSS, so
// a chart follows its box when the window or the layout changes.
function drawCharts(root) {
  if (!window.echarts) return;
  root.querySelectorAll("[data-chart]").forEach(function (el) {
    if (el.dataset.drawn) return;
    var option = JSON.parse(el.dataset.chart);
    if (window.wmFormat) window.wmFormat(option);
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption(option);
    el.dataset.drawn = "1";
    if (window.ResizeObserver) {
      new ResizeObserver(function () { chart.resize(); }).observe(el);
    } else {
      window.addEventListener("resize", function () { chart.resize(); });
    }
  });
}
document.addEventListener("DOMContentLoaded", function () {
  drawCharts(document);
  // Read by the browser benchmark: every chart of the first view has been drawn.
  if (window.performance && performance.mark) performance.mark("wm-charts-drawn");
});
document.addEventListener("htmx:afterSwap", function (e) { drawCharts(e.target); });

// Every htmx request carries the page's CSRF token: the server refuses unsafe requests without it.
document.addEventListener("htmx:configRequest", function (e) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) e.detail.headers["X-CSRF-Token"] = meta.content;
});

// "Back" links go back in history (no inline javascript: URLs, which the CSP forbids).
document.addEventListener("click", function (e) {
  var back = e.target.closest && e.target.closest("a[data-back]");
  if (back && window.history.length > 1) {
    e.preventDefault();
    window.history.back();
  }
});
