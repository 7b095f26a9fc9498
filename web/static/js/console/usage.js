// Usage reports: charts drawn as plain SVG from /api/v1/reports/usage/ (nothing loaded from
// elsewhere), a table by the chosen grouping, and the server's CSV download for the same query.

import { api } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { showError } from "../state.js";
import { locale, numberFormat } from "../i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const strings = JSON.parse(document.getElementById("usage-strings").textContent);
const form = document.getElementById("usage-form");
const error = document.getElementById("usage-error");
const summary = document.getElementById("usage-summary");
const rowsBody = document.getElementById("usage-rows");
const keyHeading = document.getElementById("usage-key-heading");
const csvLink = document.getElementById("usage-csv");
const number = numberFormat();
const percent = numberFormat({ style: "percent", maximumFractionDigits: 1 });

/** An SVG element; text goes in through textContent only. */
function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function fill(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, name) => values[name]);
}

// The drawing is as wide as its box (text keeps its size on a phone), within bounds.
let W = 480;
const H = 200, LEFT = 40, RIGHT = 10, TOP = 10, BOTTOM = 24;

function widthOf(container) {
  W = Math.round(Math.max(280, Math.min(640, container.clientWidth || 480)));
}

function empty(container) {
  replaceChildren(container, h("p", { class: "muted chart-empty" }, strings.none));
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((step) => step * power).find((top) => top >= value);
}

function axes(svg, max, format, labels) {
  const plotH = H - TOP - BOTTOM;
  for (const fraction of [0, 0.5, 1]) {
    const y = TOP + plotH * (1 - fraction);
    svg.append(s("line", { x1: LEFT, x2: W - RIGHT, y1: y, y2: y, class: "grid" }));
    svg.append(s("text", { x: LEFT - 6, y: y + 4, class: "tick", "text-anchor": "end" },
      format(max * fraction)));
  }
  for (const { x, text } of labels) {
    svg.append(s("text", { x, y: H - 8, class: "tick", "text-anchor": "middle" }, text));
  }
}

/** Bars (or a line) over days: points = [{label, value, title}]. */
function dayChart(container, points, { format = (v) => number.format(v), max, kind = "bar",
  label }) {
  if (!points.length || points.every((p) => !p.value)) return empty(container);
  widthOf(container);
  const top = max ?? niceMax(Math.max(...points.map((p) => p.value)));
  const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
  const step = plotW / points.length;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  const every = Math.max(1, Math.ceil(points.length / 6));
  axes(svg, top, format, points.map((p, i) => ({ x: LEFT + step * (i + 0.5), text: p.label }))
    .filter((_, i) => i % every === 0 || i === points.length - 1));
  const y = (value) => TOP + plotH * (1 - value / top);
  if (kind === "line") {
    const path = points.map((p, i) => `${i ? "L" : "M"}${LEFT + step * (i + 0.5)},${y(p.value)}`);
    svg.append(s("path", { d: path.join(" "), class: "series-line" }));
  }
  points.forEach((p, i) => {
    const x = LEFT + step * i;
    if (kind === "line") {
      svg.append(s("circle", { cx: x + step / 2, cy: y(p.value), r: 3, class: "series-dot" },
        s("title", {}, p.title)));
    } else {
      const barW = Math.max(1, step * 0.7);
      svg.append(s("rect", { x: x + (step - barW) / 2, y: y(p.value), width: barW,
        height: Math.max(0, TOP + plotH - y(p.value)), class: "series-bar" },
      s("title", {}, p.title)));
    }
  });
  replaceChildren(container, svg);
}

/** Horizontal bars, busiest first: items = [{label, value}]. */
function rankChart(container, items, label) {
  if (!items.length) return empty(container);
  widthOf(container);
  const rowH = 24, nameW = Math.min(150, W * 0.4), height = items.length * rowH + 8;
  const top = Math.max(...items.map((item) => item.value));
  const svg = s("svg", { viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": label });
  items.forEach((item, i) => {
    const y = 4 + i * rowH;
    const width = ((W - nameW - 70) * item.value) / top;
    const fits = Math.floor((nameW - 8) / 6.5); // characters of 11px text
    const name = item.label.length > fits ? `${item.label.slice(0, fits - 1)}…` : item.label;
    svg.append(s("g", { class: "rank" },
      s("title", {}, `${item.label}: ${number.format(item.value)}`),
      s("text", { x: nameW - 8, y: y + 15, class: "tick rank-name", "text-anchor": "end" }, name),
      s("rect", { x: nameW, y: y + 3, width: Math.max(1, width), height: rowH - 8,
        class: "series-bar" }),
      s("text", { x: nameW + width + 6, y: y + 15, class: "tick" }, number.format(item.value))));
  });
  replaceChildren(container, svg);
}

function daysBetween(start, end) {
  const days = [];
  for (let d = new Date(`${start}T00:00:00Z`); d <= new Date(`${end}T00:00:00Z`);
    d = new Date(d.getTime() + 86400000)) {
    days.push(d.toISOString().slice(0, 10));
  }
  return days;
}

const shortDay = new Intl.DateTimeFormat(locale, { month: "short", day: "numeric",
  timeZone: "UTC" });

function params() {
  return { start: form.elements.start.value, end: form.elements.end.value,
    group_by: form.elements.group_by.value };
}

function csvHref(query) {
  const url = new URL("/api/v1/reports/usage/", location.origin);
  for (const [name, value] of Object.entries({ ...query, format: "csv" })) {
    url.searchParams.set(name, value);
  }
  return url.pathname + url.search;
}

async function show() {
  showError(error, "");
  const query = params();
  csvLink.href = csvHref(query);
  try {
    const [byDay, byRoom, table] = await Promise.all([
      api("reports/usage/", { params: { ...query, group_by: "day" } }),
      api("reports/usage/", { params: { ...query, group_by: "room" } }),
      query.group_by === "day" || query.group_by === "room" ? null
        : api("reports/usage/", { params: query }),
    ]);
    const rows = table ? table.rows : (query.group_by === "day" ? byDay.rows : byRoom.rows);
    const found = Object.fromEntries(byDay.rows.map((row) => [row.key, row]));
    const days = daysBetween(query.start, query.end).map((day) => ({ day,
      label: shortDay.format(new Date(`${day}T00:00:00Z`)),
      row: found[day] || { messages: 0, people: 0, external_messages: 0 } }));
    const total = byDay.rows.reduce((sum, row) => ({ messages: sum.messages + row.messages,
      external: sum.external + row.external_messages }), { messages: 0, external: 0 });
    summary.textContent = `${fill(strings.summary, { messages: number.format(total.messages),
      people: number.format(Math.max(0, ...byDay.rows.map((row) => row.people))) })} ${
      fill(strings.share,
        { share: percent.format(total.messages ? total.external / total.messages : 0) })}`;
    dayChart(document.getElementById("chart-messages"), days.map((d) => ({ label: d.label,
      value: d.row.messages, title: `${d.day}: ${number.format(d.row.messages)} ${strings.messages}` })),
    { label: document.getElementById("chart-messages-heading").textContent });
    dayChart(document.getElementById("chart-people"), days.map((d) => ({ label: d.label,
      value: d.row.people, title: `${d.day}: ${number.format(d.row.people)} ${strings.people}` })),
    { kind: "line", label: document.getElementById("chart-people-heading").textContent });
    dayChart(document.getElementById("chart-external"), days.map((d) => {
      const share = d.row.messages ? d.row.external_messages / d.row.messages : 0;
      return { label: d.label, value: share, title: `${d.day}: ${percent.format(share)}` };
    }), { max: 1, format: (v) => percent.format(v),
      label: document.getElementById("chart-external-heading").textContent });
    rankChart(document.getElementById("chart-rooms"), byRoom.rows.slice(0, 10)
      .map((row) => ({ label: row.key, value: row.messages })),
    document.getElementById("chart-rooms-heading").textContent);
    keyHeading.textContent = strings.groups[query.group_by];
    replaceChildren(rowsBody, rows.map((row) => h("tr", {},
      h("td", { class: "key" }, row.key ?? strings.no_department),
      ...["conversations", "messages", "files", "people", "external_messages"]
        .map((column) => h("td", { class: "number" }, number.format(row[column]))))));
    if (!rows.length) {
      replaceChildren(rowsBody, h("tr", {}, h("td", { colspan: 6, class: "muted" }, strings.none)));
    }
  } catch (failure) {
    showError(error, failure.message);
  }
  document.body.dataset.shown = `${query.start}/${query.end}/${query.group_by}`;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  show();
});
form.addEventListener("change", () => { csvLink.href = csvHref(params()); });

// Default range: the last 30 days (UTC, as the report's days are).
const today = new Date();
form.elements.end.value = today.toISOString().slice(0, 10);
form.elements.start.value = new Date(today.getTime() - 29 * 86400000).toISOString().slice(0, 10);
show();
document.body.dataset.ready = "true"; // the page's handlers are in place (tests wait for it)
