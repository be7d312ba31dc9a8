// Draws every chart on the page from the JSON in its data-chart attribute (ECharts option).
function drawCharts(root) {
  if (!window.echarts) return;
  root.querySelectorAll("[data-chart]").forEach(function (el) {
    if (el.dataset.drawn) return;
    var option = JSON.parse(el.dataset.chart);
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption(option);
    el.dataset.drawn = "1";
    window.addEventListener("resize", function () { chart.resize(); });
  });
}
document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
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
