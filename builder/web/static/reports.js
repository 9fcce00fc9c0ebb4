// Report charts: Apache ECharts (served by the app, /static/vendor/echarts.min.js) draws each chart from the
// JSON in the page. Every chart has its table below it (the same cells, in words) and works without this file.
// - palette: Okabe-Ito (colour-blind safe), with decal patterns; larger type in large-text mode
// - a table toggle and a PNG download (getDataURL) per chart; clicking a point opens its records when linked
// - rows flagged `forecast` are drawn dashed (lines) or pale (bars)
(function () {
  "use strict";

  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"];
  var HEAT = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"];

  function largeText() { return document.body.classList.contains("large-text"); }

  function formatter(format) {
    return function (value) {
      if (value === null || value === undefined || value === "-") return "";
      if (typeof value !== "number") return String(value);
      if (format === "percent") return (value * 100).toFixed(1).replace(/\.0$/, "") + "%";
      if (format === "integer") return Math.round(value).toLocaleString();
      return Number.isInteger(value) ? value.toLocaleString() : value.toFixed(2).replace(/\.?0+$/, "");
    };
  }

  function baseOption(data) {
    var size = largeText() ? 16 : 12;
    return {
      color: PALETTE,
      aria: { enabled: true, decal: { show: true } },
      textStyle: { fontSize: size },
      animation: false,
      // richText: the tooltip is drawn in the canvas, so no inline style meets the page's CSP
      tooltip: { trigger: data.type === "pie" || data.type === "heatmap" ? "item" : "axis", renderMode: "richText",
                 valueFormatter: formatter(data.format), textStyle: { fontSize: size } },
      legend: { type: "scroll", bottom: 0, textStyle: { fontSize: size } },
      grid: { left: 8, right: 16, top: 24, bottom: 48, containLabel: true }
    };
  }

  function seriesOption(data) {
    var option = baseOption(data);
    var size = largeText() ? 16 : 12;
    var stacked = data.type === "stacked_bar";
    var kind = data.type === "line" ? "line" : "bar";
    option.xAxis = { type: "category", data: data.categories, axisLabel: { fontSize: size, hideOverlap: true } };
    option.yAxis = { type: "value", axisLabel: { fontSize: size, formatter: formatter(data.format) } };
    option.series = [];
    data.series.forEach(function (s) {
      var actual = s.data.map(function (v, i) { return s.forecast[i] ? null : v; });
      var entry = { name: s.name, type: kind, data: actual, connectNulls: false, links: s.links,
                    emphasis: { focus: "series" }, symbolSize: 6 };
      if (stacked) entry.stack = "all";
      option.series.push(entry);
      if (s.forecast.some(Boolean)) {
        // the forecast continues the line from the last actual point, dashed; forecast bars are pale
        var last = s.forecast.indexOf(true) - 1;
        var ahead = s.data.map(function (v, i) { return s.forecast[i] || i === last ? v : null; });
        var dashed = { name: s.name, type: kind, data: ahead, links: s.links, forecast: true };
        if (kind === "line") dashed.lineStyle = { type: "dashed" };
        else dashed.itemStyle = { opacity: 0.45 };
        if (stacked) dashed.stack = "forecast";
        option.series.push(dashed);
      }
    });
    if (data.series.length < 2 && !data.has_forecast) option.legend.show = false;
    return option;
  }

  function pieOption(data, width) {
    var option = baseOption(data);
    var s = data.series[0] || { data: [], links: [] };
    option.series = [{
      type: "pie", radius: ["40%", "68%"], center: ["50%", "45%"], links: s.links,
      label: { show: width > 480, fontSize: largeText() ? 16 : 12 }, // on a phone the legend names the slices
      data: data.categories.map(function (name, i) { return { name: name, value: s.data[i] }; })
        .filter(function (item) { return item.value !== null; })
    }];
    return option;
  }

  function heatOption(data) {
    var option = baseOption(data);
    var size = largeText() ? 16 : 12;
    option.legend = { show: false };
    option.grid.bottom = 64;
    option.xAxis = { type: "category", data: data.categories, splitArea: { show: true }, axisLabel: { fontSize: size } };
    option.yAxis = { type: "category", data: data.rows, splitArea: { show: true }, axisLabel: { fontSize: size } };
    option.visualMap = { min: data.min, max: data.max || 1, calculable: true, orient: "horizontal", left: "center",
                         bottom: 0, inRange: { color: HEAT }, formatter: formatter(data.format),
                         textStyle: { fontSize: size } };
    option.series = [{ type: "heatmap", name: data.axis, links: data.cells.map(function (c) { return c[3]; }),
                       data: data.cells.map(function (c) { return [c[0], c[1], c[2] === null ? "-" : c[2]]; }),
                       label: { show: data.categories.length * data.rows.length <= 60, fontSize: size,
                                formatter: function (p) { return formatter(data.format)(p.value[2]); } } }];
    return option;
  }

  function optionFor(data, width) {
    if (data.type === "pie") return pieOption(data, width);
    if (data.type === "heatmap") return heatOption(data);
    return seriesOption(data);
  }

  function linkOf(chart, params) {
    var series = chart.getOption().series[params.seriesIndex] || {};
    var links = series.links || [];
    return links[params.dataIndex] || null;
  }

  function draw(box) {
    var source = document.getElementById(box.getAttribute("data-chart"));
    if (!source || !window.echarts) return;
    var data;
    try { data = JSON.parse(source.textContent); } catch (e) { return; }
    var chart = window.echarts.init(box, null, { renderer: "canvas" });
    chart.setOption(optionFor(data, box.clientWidth));
    chart.on("click", function (params) {
      var url = linkOf(chart, params);
      if (url) window.location.href = url;
    });
    window.addEventListener("resize", function () { chart.resize(); });
    var figure = box.closest("figure");
    var actions = figure && figure.querySelector(".chart-actions");
    if (actions) actions.hidden = false;
    var table = document.getElementById(box.getAttribute("data-table"));
    var toggle = figure && figure.querySelector("[data-toggle-table]");
    if (table && toggle) {
      var show = function (visible) {
        table.hidden = !visible;
        toggle.setAttribute("aria-expanded", visible ? "true" : "false");
        toggle.textContent = toggle.getAttribute(visible ? "data-hide-text" : "data-show-text");
      };
      show(false); // the chart is drawn: its table is one press away
      toggle.addEventListener("click", function () { show(table.hidden); });
    }
    var png = figure && figure.querySelector("[data-png]");
    if (png) {
      png.addEventListener("click", function () {
        var link = document.createElement("a");
        link.href = chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#ffffff" });
        link.download = (box.getAttribute("data-png-name") || "chart") + ".png";
        document.body.appendChild(link);
        link.click();
        link.remove();
      });
    }
  }

  function customDates() {
    document.querySelectorAll("select[data-period]").forEach(function (select) {
      var pair = document.querySelector('[data-custom-of="' + select.id + '"]');
      if (!pair) return;
      var sync = function () {
        var custom = select.value === "custom";
        pair.hidden = !custom;
        pair.querySelectorAll("input").forEach(function (input) { input.disabled = !custom; });
      };
      select.addEventListener("change", sync);
      sync();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    customDates();
    document.querySelectorAll("[data-chart]").forEach(draw);
  });
})();
