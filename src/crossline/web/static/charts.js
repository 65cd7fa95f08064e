// Draw every chart a page embeds as <script type="application/json" data-chart="ID">.
// Pages carry no inline script, so the Content-Security-Policy can forbid it.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("script[data-chart]").forEach(function (data) {
    var figure = JSON.parse(data.textContent);
    var target = document.getElementById(data.getAttribute("data-chart"));
    Plotly.newPlot(target, figure.data, figure.layout, figure.config);
  });
});
