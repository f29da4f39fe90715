// chart.js: the occupancy charts of the manager dashboard, drawn as SVG by the page (DOM calls only, so
// the strict Content-Security-Policy holds). One bar per night: confirmed units at the foot, held units
// above them, against the number of units; the same data is in the table under the charts. In Arabic the
// time axis runs from right to left, like the text.
import { h } from "./ui.js";
import { fmtDate, fmtNumber, dir } from "./i18n.js";

const H = 180; // drawing height (viewBox units)
const PAD = { top: 12, bottom: 30, side: 40, end: 8 };

// series: [{night, stack: [{value, cls}], title}]; max: the value at full height; label: accessible name;
// fit: the width (CSS pixels) the chart should fill: bars are sized for it, at least 8 px a night (a long
// range on a phone scrolls sideways instead of shrinking to nothing).
export function barChart(series, max, label, axisUnit, fit) {
  const n = Math.max(1, series.length);
  const room = Math.max(200, fit || 640) - PAD.side - PAD.end;
  const step = Math.max(8, Math.min(40, Math.floor(room / n)));
  const gap = Math.max(2, Math.round(step / 5));
  const bar = step - gap;
  const W = PAD.side + PAD.end + n * step;
  const rtl = dir() === "rtl";
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v) => PAD.top + plotH - (max > 0 ? (v / max) * plotH : 0);
  // x of night i's bar, mirrored in right-to-left pages
  const x = (i) => (rtl ? W - PAD.side - (i + 1) * step + gap / 2 : PAD.side + i * step + gap / 2);
  const svg = h("svg:svg", { viewBox: "0 0 " + W + " " + H, class: "chart", role: "img", "aria-label": label,
    preserveAspectRatio: "xMidYMin meet", direction: "ltr" });
  // drawn for its box; wider than the box it scrolls (CSSOM, not a style attribute: the
  // Content-Security-Policy allows it)
  svg.style.minWidth = W + "px";
  svg.appendChild(h("svg:title", null, label));

  // grid lines at 0, half and full, with their values
  for (const v of [0, Math.round(max / 2), max]) {
    const yy = y(v);
    svg.appendChild(h("svg:line", { x1: rtl ? PAD.end : PAD.side - 4, x2: rtl ? W - PAD.side + 4 : W - PAD.end, y1: yy, y2: yy,
      class: v === max ? "grid grid-max" : "grid" }));
    svg.appendChild(h("svg:text", { x: rtl ? W - PAD.side + 8 : PAD.side - 8, y: yy + 4, class: "axis",
      "text-anchor": rtl ? "start" : "end" }, fmtNumber(v) + (axisUnit && v === max ? " " + axisUnit : "")));
  }
  const every = Math.max(1, Math.ceil(60 / step)); // a date label every 60 px or so
  series.forEach((s, i) => {
    const g = h("svg:g", { class: "night", "data-night": s.night });
    g.appendChild(h("svg:title", null, s.title));
    let base = 0;
    for (const part of s.stack) {
      if (part.value > 0) {
        g.appendChild(h("svg:rect", { x: x(i), width: bar, y: y(base + part.value), height: y(base) - y(base + part.value),
          class: part.cls, "data-value": part.value }));
      }
      base += part.value;
    }
    // an empty night still gets a thin mark so that the axis reads as a calendar
    if (base === 0) g.appendChild(h("svg:rect", { x: x(i), width: bar, y: y(0) - 1, height: 1, class: "none" }));
    svg.appendChild(g);
    if (i % every === 0)
      svg.appendChild(h("svg:text", { x: x(i) + bar / 2, y: H - PAD.bottom + 16, class: "axis", "text-anchor": "middle" },
        fmtDate(s.night, "short")));
  });
  return h("div", { class: "chart-wrap" }, svg);
}
