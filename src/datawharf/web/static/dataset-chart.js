// datawharf backoffice, dataset page: the chart of a field, from the Explore API's group_by.
// - a text field: the most frequent values, one horizontal bar each (group_by the field, count(*));
// - a date or datetime field: a time series, one point a year, month or day (group_by date_format).
// Drawn as SVG by this script rather than with a chart library: two shapes (bars, a line with its
// points) are some hundred lines, where a library would add hundreds of kilobytes to vendor and pin, and
// plain SVG elements let the page be checked (one <rect> a group, one <circle> a period) and read by a
// screen reader (each shape has its <title>).
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const TOP_VALUES = 20;
const MAX_PERIODS = 2000;
const PERIOD_PATTERNS = { year: "yyyy", month: "yyyy-MM", day: "yyyy-MM-dd" };

function svgElement(name, attributes, text) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, String(value));
  if (text != null) element.textContent = text;
  return element;
}

function titled(element, text) {
  element.appendChild(svgElement("title", {}, text));
  return element;
}

function quoted(field) {
  return "`" + field + "`";
}

async function explore(url, params) {
  const response = await fetch(url + "?" + new URLSearchParams(params).toString(), { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || String(response.status));
  return body;
}

// A period as group_by gives it ("2024", "2024-05", "2024-05-17") to a time, for the x axis.
function periodTime(period) {
  const [year, month, day] = period.split("-").map(Number);
  return Date.UTC(year, (month || 1) - 1, day || 1);
}

// The period that gives a readable series over the dates' span: years past three years, months past
// two months, days below.
function periodFor(first, last) {
  const days = (Date.parse(last) - Date.parse(first)) / 86400000;
  if (!(days >= 0)) return "month";
  if (days > 3 * 366) return "year";
  if (days > 62) return "month";
  return "day";
}

// The chart's numbers as a table, folded under it: for a screen reader, and for copying.
function numbersTable(caption, heads, rows) {
  const details = document.createElement("details");
  details.className = "chart-numbers";
  const summary = document.createElement("summary");
  summary.textContent = "The numbers";
  const table = document.createElement("table");
  table.createCaption().textContent = caption;
  const headRow = table.createTHead().insertRow();
  heads.forEach((head) => {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = head;
    headRow.appendChild(th);
  });
  const body = table.createTBody();
  rows.forEach(([label, count]) => {
    const row = body.insertRow();
    row.insertCell().textContent = label;
    const cell = row.insertCell();
    cell.textContent = count.toLocaleString("en");
    cell.className = "num";
  });
  details.append(summary, table);
  return details;
}

function drawBars(box, groups, field) {
  const width = Math.max(300, box.clientWidth);
  const labelWidth = Math.min(180, Math.round(width * 0.35));
  const barHeight = 22;
  const countWidth = 60;
  const height = groups.length * barHeight + 8;
  const max = Math.max(1, ...groups.map((group) => group.count));
  const svg = svgElement("svg", { width, height, class: "chart-bars", role: "img", "aria-label": "Records by " + field });
  groups.forEach((group, index) => {
    const y = 4 + index * barHeight;
    const shown = group.value == null ? "(empty)" : String(group.value);
    const label = shown.length > 26 ? shown.slice(0, 25) + "…" : shown;
    svg.appendChild(svgElement("text", { x: labelWidth - 6, y: y + 15, "text-anchor": "end", class: "chart-label" }, label));
    const length = Math.max(1, ((width - labelWidth - countWidth) * group.count) / max);
    const bar = svgElement("rect", { x: labelWidth, y: y + 3, width: length, height: barHeight - 6, class: "bar", "data-value": shown, "data-count": group.count });
    svg.appendChild(titled(bar, shown + ": " + group.count.toLocaleString("en")));
    svg.appendChild(svgElement("text", { x: labelWidth + length + 6, y: y + 15, class: "chart-count" }, group.count.toLocaleString("en")));
  });
  const rows = groups.map((group) => [group.value == null ? "(empty)" : String(group.value), group.count]);
  box.replaceChildren(svg, numbersTable("Records by " + field, [field, "Records"], rows));
}

function drawSeries(box, points, field, period) {
  const width = Math.max(300, box.clientWidth);
  const height = 240;
  const pad = { left: 56, right: 16, top: 12, bottom: 34 };
  const times = points.map((point) => periodTime(point.period));
  const first = Math.min(...times);
  const span = Math.max(1, Math.max(...times) - first);
  const max = Math.max(1, ...points.map((point) => point.count));
  const x = (time) => pad.left + ((width - pad.left - pad.right) * (points.length === 1 ? 0.5 : (time - first) / span));
  const y = (count) => pad.top + (height - pad.top - pad.bottom) * (1 - count / max);
  const svg = svgElement("svg", { width, height, class: "chart-series", role: "img", "aria-label": "Records per " + period + " of " + field });
  svg.appendChild(svgElement("line", { x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), class: "axis" }));
  svg.appendChild(svgElement("line", { x1: pad.left, x2: pad.left, y1: pad.top, y2: y(0), class: "axis" }));
  svg.appendChild(svgElement("text", { x: pad.left - 6, y: y(max) + 4, "text-anchor": "end", class: "chart-count" }, max.toLocaleString("en")));
  svg.appendChild(svgElement("text", { x: pad.left - 6, y: y(0) + 4, "text-anchor": "end", class: "chart-count" }, "0"));
  // Period labels under the axis, one every `every` points so that they never overlap (about 90 px each),
  // the last one always.
  const every = Math.max(1, Math.ceil(points.length / Math.max(1, Math.floor((width - pad.left - pad.right) / 90))));
  points.forEach((point, index) => {
    const last = index === points.length - 1;
    if (index % every !== 0 && !last) return;
    if (!last && points.length - 1 - index < every && index !== 0) return; // leave room for the last one
    const anchor = points.length === 1 ? "middle" : index === 0 ? "start" : last ? "end" : "middle";
    svg.appendChild(svgElement("text", { x: x(times[index]), y: height - 10, "text-anchor": anchor, class: "chart-label" }, point.period));
  });
  const line = points.map((point, index) => x(times[index]).toFixed(1) + "," + y(point.count).toFixed(1)).join(" ");
  svg.appendChild(svgElement("polyline", { points: line, class: "series-line" }));
  points.forEach((point, index) => {
    const dot = svgElement("circle", { cx: x(times[index]), cy: y(point.count), r: 3.5, class: "point", "data-period": point.period, "data-count": point.count });
    svg.appendChild(titled(dot, point.period + ": " + point.count.toLocaleString("en")));
  });
  const rows = points.map((point) => [point.period, point.count]);
  box.replaceChildren(svg, numbersTable("Records per " + period + " of " + field, [period, "Records"], rows));
}

function recordsChart(card) {
  const url = card.dataset.recordsUrl;
  const picker = card.querySelector("[data-chart-field]");
  const periodBox = card.querySelector("[data-chart-period-box]");
  const periodPicker = card.querySelector("[data-chart-period]");
  const summary = card.querySelector("[data-chart-summary]");
  const box = card.querySelector("[data-chart]");
  let ticket = 0;
  let redraw = null;

  const countByValue = async (field, label) => {
    const body = await explore(url, {
      select: "value, count(*) as count", group_by: quoted(field) + " as value", order_by: "count desc, value", limit: String(TOP_VALUES),
    });
    const groups = body.results || [];
    const total = body.total_count || 0;
    if (groups.length && groups[0].count === 1) {
      return {
        draw: null,
        text: "Each of the " + total.toLocaleString("en") + " values of " + label + " is in one record only: a chart of it says nothing. Choose another field.",
        empty: true,
      };
    }
    return {
      draw: () => drawBars(box, groups, label),
      text: groups.length
        ? (total > groups.length ? "The " + groups.length + " most frequent of " + total.toLocaleString("en") + " values" : total + (total === 1 ? " value" : " values")) + " of " + label + ", by number of records."
        : "No record.",
      empty: !groups.length,
    };
  };

  const series = async (field, label) => {
    let period = periodPicker.value;
    if (!period) {
      const span = await explore(url, { select: "min(" + quoted(field) + ") as first, max(" + quoted(field) + ") as last" });
      const row = (span.results || [])[0] || {};
      period = row.first && row.last ? periodFor(row.first, row.last) : "month";
    }
    const body = await explore(url, {
      select: "period, count(*) as count",
      group_by: "date_format(" + quoted(field) + ", '" + PERIOD_PATTERNS[period] + "') as period",
      where: quoted(field) + " is not null",
      order_by: "period",
      limit: String(MAX_PERIODS),
    });
    const points = (body.results || []).filter((point) => point.period != null);
    const total = body.total_count || 0;
    return {
      draw: () => drawSeries(box, points, label, period),
      text: points.length
        ? "Records per " + period + " of " + label + ": " + points.length.toLocaleString("en") + (points.length === 1 ? " " + period : " " + period + "s") +
          (total > points.length ? " (the first " + points.length.toLocaleString("en") + ")" : "") + ", " +
          points[0].period + " to " + points[points.length - 1].period + "."
        : "No record has a date in this field.",
      empty: !points.length,
    };
  };

  const load = async () => {
    const option = picker.selectedOptions[0];
    const field = picker.value;
    const label = option.dataset.label;
    const isDate = option.dataset.type !== "text";
    periodBox.hidden = !isDate;
    const mine = ++ticket;
    card.setAttribute("aria-busy", "true");
    summary.textContent = "Loading the chart…";
    try {
      const chart = isDate ? await series(field, label) : await countByValue(field, label);
      if (mine !== ticket) return;
      summary.textContent = chart.text;
      redraw = chart.empty ? null : chart.draw;
      if (redraw) redraw(); else box.replaceChildren();
    } catch (error) {
      if (mine === ticket) summary.textContent = "The chart could not be loaded: " + error.message;
    } finally {
      if (mine === ticket) card.removeAttribute("aria-busy");
    }
  };
  // The first chart: among the first five text fields (five small group_by queries, whatever the
  // number of fields), the one with the fewest distinct values past one (a field whose every record has
  // its own value, an identifier, charts nothing); else the first date field.
  const firstChoice = async () => {
    const options = Array.from(picker.options);
    const texts = options.filter((option) => option.dataset.type === "text").slice(0, 5);
    const counts = await Promise.all(texts.map(async (option) => {
      try {
        const body = await explore(url, { select: "count(*) as n", group_by: quoted(option.value), limit: "0" });
        return body.total_count || 0;
      } catch (_error) {
        return 0;
      }
    }));
    let best = null;
    texts.forEach((option, index) => {
      if (counts[index] >= 2 && (best === null || counts[index] < counts[best])) best = index;
    });
    const date = options.find((option) => option.dataset.type !== "text");
    if (best !== null) picker.value = texts[best].value;
    else if (date) picker.value = date.value;
  };
  picker.addEventListener("change", () => { periodPicker.value = ""; load(); });
  periodPicker.addEventListener("change", load);
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { if (redraw) redraw(); }, 150);
  });
  firstChoice().then(load);
}

document.addEventListener("DOMContentLoaded", () => {
  const card = document.getElementById("chart-card");
  if (card) recordsChart(card);
});
