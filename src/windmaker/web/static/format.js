// Numbers in charts as people read them: the same text as windmaker/numbers.py for the same value
// and language. The browser's Intl.NumberFormat (CLDR) does the locale work; this file chooses only
// the unit (万/亿, K/M) and the precision, as numbers.py does with Babel.
//
// A chart option built in Python carries a top-level "wm" key:
//   {"lang": "zh-CN" | "en", "value": kind, "axis": kind (default: value), "labels": true|false}
// with kind one of "money", "pct", "count", "num" (2 decimals), "score" (whole). wmFormat(option)
// removes it and installs the tooltip's valueFormatter, the value axes' label formatter (compact
// money on axes) and, with labels, a label on every bar and line series. Functions cannot travel
// in the JSON of a page: the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  function locale(lang) {
    return String(lang || "zh-CN").toLowerCase().indexOf("zh") === 0 ? "zh-CN" : "en";
  }

  var cache = {};
  function nf(loc, digits, grouping) {
    var key = loc + digits + grouping;
    if (!cache[key]) {
      cache[key] = new Intl.NumberFormat(loc, {
        maximumFractionDigits: digits,
        minimumFractionDigits: 0,
        useGrouping: grouping,
        roundingMode: "halfEven",
      });
    }
    return cache[key];
  }

  function missing() {
    var el = document.documentElement;
    return (el && el.dataset && el.dataset.missing) || "–";
  }

  function value(v) {
    if (v === null || v === undefined || v === "" || v === "-" || typeof v === "boolean") return null;
    var n = typeof v === "number" ? v : Number(v);
    return isFinite(n) ? n : null;
  }

  // Python's round(x, d) on a float: the exact binary value rounded half to even. Number's
  // toFixed rounds exact halves up, so the digits past d are read from the exact expansion.
  function pyRound(x, d) {
    var a = Math.abs(x);
    if (a >= 1e15) return x; // every double this large is a whole number
    var exact = a.toFixed(100);
    var dot = exact.indexOf(".");
    var units = BigInt(exact.slice(0, dot) + exact.slice(dot + 1, dot + 1 + d));
    var rest = exact.slice(dot + 1 + d);
    if (rest[0] > "5" || (rest[0] === "5" && (/[1-9]/.test(rest.slice(1)) || units % 2n === 1n))) {
      units += 1n;
    }
    var r = Number(units.toString() + "e-" + d);
    return x < 0 ? -r : r;
  }

  // The decimal shift of a number's shortest text, as Babel divides Decimal(str(x)) exactly.
  function shift(a, power) {
    return a < 1e21 ? Number(String(a) + "e-" + power) : a / Math.pow(10, power);
  }

  var UNITS = {
    "zh-CN": [[12, "万亿"], [8, "亿"], [4, "万"]],
    en: [[12, "T"], [9, "B"], [6, "M"], [3, "K"]],
  };

  // CLDR's short compact form, the unit chosen by the magnitude before rounding (as Babel does).
  function compact(v, loc, digits) {
    var a = Math.abs(v);
    var units = UNITS[loc];
    for (var i = 0; i < units.length; i++) {
      if (a >= Math.pow(10, units[i][0])) {
        var body = nf(loc, digits, false).format(shift(a, units[i][0])) + units[i][1];
        return (v < 0 ? "-" : "") + body;
      }
    }
    return nf(loc, digits, false).format(v);
  }

  function decimal(v, digits, lang) {
    var n = value(v);
    if (n === null) return missing();
    return nf(locale(lang), digits, true).format(pyRound(n, digits) + 0);
  }

  function count(v, lang) {
    var n = value(v);
    if (n === null) return missing();
    var loc = locale(lang);
    if (loc === "zh-CN" && Math.abs(n) >= 1e5) return compact(n, loc, 1);
    return decimal(n, 0, lang);
  }

  function money(v, lang, isCompact) {
    var n = value(v);
    if (n === null) return missing();
    var loc = locale(lang);
    var a = Math.abs(n);
    var body;
    if (loc === "zh-CN" && a >= 1e4) body = compact(a, loc, 2);
    else if (isCompact && a >= 1e3) body = compact(a, loc, 1);
    else body = decimal(a, a >= 100 ? 0 : 2, lang);
    return (n < 0 ? "-" : "") + "¥" + body;
  }

  function pct(v, lang, digits) {
    var n = value(v);
    if (n === null) return missing();
    return decimal(n * 100, digits === undefined ? 1 : digits, lang) + "%";
  }

  // One formatter per kind, for tooltips and labels (full) and for axes (compact money).
  function formatter(kind, lang, onAxis) {
    switch (kind) {
      case "money":
        return function (v) { return money(v, lang, onAxis); };
      case "pct":
        return function (v) { return pct(v, lang); };
      case "count":
        return function (v) { return count(v, lang); };
      case "score":
        return function (v) { return decimal(v, 0, lang); };
      default:
        return function (v) { return decimal(v, 2, lang); };
    }
  }

  function list(x) {
    if (x === undefined || x === null) return [];
    return Array.isArray(x) ? x : [x];
  }

  function eachValue(fn) {
    return function (v) {
      return Array.isArray(v) ? v.map(fn).join(" / ") : fn(v);
    };
  }

  function isValueAxis(axis, key) {
    var type = axis.type || (key === "yAxis" ? "value" : "category");
    return type === "value" || type === "log";
  }

  function wmFormat(option) {
    if (!option || typeof option !== "object" || !option.wm) return option;
    var wm = option.wm;
    delete option.wm;
    var lang = wm.lang;
    var kind = wm.value || "num";
    var axisKinds = list(wm.axis === undefined ? kind : wm.axis);
    var full = formatter(kind, lang, false);

    var tips = list(option.tooltip);
    if (!tips.length) {
      option.tooltip = {};
      tips = [option.tooltip];
    }
    tips.forEach(function (tip) {
      if (!tip.valueFormatter) tip.valueFormatter = eachValue(full);
    });

    // The value axes in order; "axis" may name a kind per value axis.
    var valueOnX = false;
    var seen = 0;
    ["xAxis", "yAxis"].forEach(function (key) {
      list(option[key]).forEach(function (axis) {
        if (!isValueAxis(axis, key)) return;
        if (key === "xAxis") valueOnX = true;
        var axisKind = axisKinds[Math.min(seen, axisKinds.length - 1)];
        seen += 1;
        axis.axisLabel = axis.axisLabel || {};
        axis.axisLabel.formatter = formatter(axisKind, lang, true);
      });
    });

    if (wm.labels) {
      list(option.series).forEach(function (series) {
        if (series.type !== "bar" && series.type !== "line") return;
        if (series.label && series.label.show === false) return; // e.g. a waterfall's base
        series.label = series.label || {};
        series.label.show = true;
        series.label.formatter = function (params) {
          var v = params.value;
          if (Array.isArray(v)) v = v[valueOnX ? 0 : 1];
          return full(v);
        };
      });
    }
    return option;
  }

  window.wmFormat = wmFormat;
  window.wmNumbers = { money: money, pct: pct, count: count, decimal: decimal };
})();
