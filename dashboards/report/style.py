"""The report's stylesheet, inlined into the page: screen, phone and print in one place."""

from __future__ import annotations

CSS = """
:root {
  --ink: #1b2430; --muted: #5d6b7a; --line: #dde3ea; --paper: #ffffff; --bg: #f3f5f8;
  --brand: #a4161a; --good: #1e7d46; --warn: #b86e00; --bad: #c0262d; --none: #8a96a3;
  --good-bg: #e4f4ea; --warn-bg: #fff1d6; --bad-bg: #fde4e4; --none-bg: #eef1f4;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
}
.en { color: var(--muted); font-weight: 400; }
header.top { background: linear-gradient(120deg, #8d0f14, #c0262d); color: #fff; padding: 22px 28px 18px; }
header.top .kicker { letter-spacing: .08em; text-transform: uppercase; font-size: 12px; opacity: .85; }
header.top h1 { margin: 4px 0 2px; font-size: 28px; line-height: 1.2; }
header.top .en { color: #ffd9d9; }
header.top .meta { margin-top: 8px; font-size: 14px; opacity: .95; display: flex; flex-wrap: wrap; gap: 6px 18px; }
.live { display: inline-block; background: #fff; color: var(--brand); border-radius: 99px;
  padding: 1px 10px; font-size: 12px; font-weight: 700; }
.live::before { content: "● "; }
main { max-width: 1180px; margin: 0 auto; padding: 18px 16px 40px; }
section { margin: 0 0 26px; }
h2 { font-size: 19px; margin: 0 0 10px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h2 .en { font-size: 14px; margin-left: 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(290px, 1fr)); gap: 14px; }
.card { background: var(--paper); border-radius: 10px; padding: 14px 14px 8px;
  box-shadow: 0 1px 3px rgba(20, 30, 45, .10); border-top: 5px solid var(--none); break-inside: avoid; }
.card.good { border-top-color: var(--good); } .card.warn { border-top-color: var(--warn); }
.card.bad { border-top-color: var(--bad); }
.card h3 { margin: 0; font-size: 15px; }
.card h3 .en { display: block; font-size: 12px; }
.figure-row { display: flex; align-items: baseline; gap: 10px; margin: 6px 0 2px; flex-wrap: wrap; }
.big { font-size: 40px; font-weight: 800; letter-spacing: -.02em; line-height: 1.05; }
.good .big, .cell.good { color: var(--good); } .warn .big, .cell.warn { color: var(--warn); }
.bad .big, .cell.bad { color: var(--bad); } .none .big { color: var(--none); }
.counts { color: var(--muted); font-size: 13px; }
.change { font-size: 12.5px; font-weight: 600; margin-top: 2px; }
.change.up { color: var(--good); } .change.down { color: var(--bad); } .change.flat { color: var(--muted); font-weight: 400; }
.badge { display: inline-block; border-radius: 99px; padding: 1px 9px; font-size: 12px; font-weight: 600; }
.badge.good { background: var(--good-bg); color: var(--good); }
.badge.warn { background: var(--warn-bg); color: var(--warn); }
.badge.bad { background: var(--bad-bg); color: var(--bad); }
.badge.none { background: var(--none-bg); color: var(--muted); }
svg.chart { width: 100%; height: auto; display: block; }
svg .grid { stroke: #e8ecf1; stroke-width: 1; }
svg .axis { stroke: #9aa6b2; stroke-width: 1; }
svg .tick { fill: var(--muted); font-size: 9px; }
svg .axis-label { fill: var(--muted); font-size: 9px; font-style: italic; }
svg .target { stroke: var(--ink); stroke-width: 1.2; stroke-dasharray: 4 3; opacity: .55; }
svg .line { fill: none; stroke-width: 2.2; stroke-linejoin: round; stroke-linecap: round; }
svg .area { opacity: .12; stroke: none; }
.good svg .line, svg.good .line { stroke: var(--good); } .good svg .area, svg.good .area { fill: var(--good); }
.warn svg .line, svg.warn .line { stroke: var(--warn); } .warn svg .area, svg.warn .area { fill: var(--warn); }
.bad svg .line, svg.bad .line { stroke: var(--bad); } .bad svg .area, svg.bad .area { fill: var(--bad); }
svg.none .line { stroke: var(--none); } svg.none .area { fill: var(--none); }
svg .dot { fill: #fff; stroke: currentColor; stroke-width: 1.4; }
svg.good .dot { stroke: var(--good); } svg.warn .dot { stroke: var(--warn); } svg.bad .dot { stroke: var(--bad); }
svg .bar-max { fill: #f1f3f6; } svg .bar-available { fill: #d9e2ec; } svg .bar-points { fill: var(--brand); }
svg .bar-label { fill: var(--ink); font-size: 14px; } svg .bar-value { fill: var(--ink); font-size: 14px; font-weight: 700; }
svg.group-chart .axis-label { font-size: 12px; }
svg.group-chart.narrow { display: none; }
.score { display: grid; grid-template-columns: minmax(220px, 300px) 1fr; gap: 16px; align-items: center;
  background: var(--paper); border-radius: 10px; padding: 16px; box-shadow: 0 1px 3px rgba(20, 30, 45, .10); break-inside: avoid; }
.score .big { color: var(--brand); font-size: 46px; }
.score .of { font-size: 20px; color: var(--muted); font-weight: 600; }
.note { color: var(--muted); font-size: 13px; margin: 6px 0 0; }
.panel { background: var(--paper); border-radius: 10px; box-shadow: 0 1px 3px rgba(20, 30, 45, .10);
  overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th, td { padding: 6px 9px; text-align: right; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { background: #f7f9fb; font-size: 12px; color: var(--muted); font-weight: 600; vertical-align: bottom;
  white-space: normal; min-width: 64px; max-width: 120px; }
th .en { display: block; font-weight: 400; }
th:nth-child(2), td.name { text-align: left; }
th:first-child, td.rank { text-align: center; }
td.name { white-space: normal; min-width: 190px; }
td.name .code { color: var(--muted); font-size: 12px; margin-left: 4px; }
td.rank { font-weight: 700; color: var(--muted); }
td.gain { font-weight: 700; color: var(--brand); }
.cell { font-weight: 600; } .cell.none { color: var(--none); font-weight: 400; }
.cell small { display: block; color: var(--muted); font-weight: 400; font-size: 11px; }
tr { break-inside: avoid; }
.cols-2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 14px; }
h3.level { font-size: 15px; margin: 14px 0 6px; }
.legend { display: flex; flex-wrap: wrap; gap: 8px; margin: 0 0 10px; font-size: 12.5px; }
footer { color: var(--muted); font-size: 12.5px; border-top: 1px solid var(--line); padding-top: 10px; }
@media (max-width: 640px) {
  body { font-size: 14px; }
  header.top { padding: 16px 16px 14px; }
  header.top h1 { font-size: 22px; }
  main { padding: 12px 10px 30px; }
  .cards { grid-template-columns: 1fr; gap: 10px; }
  .big { font-size: 36px; }
  .score { grid-template-columns: 1fr; }
  svg.group-chart.wide { display: none; }
  svg.group-chart.narrow { display: block; }
  .cols-2 { grid-template-columns: 1fr; }
  th, td { padding: 5px 6px; }
  td.name { min-width: 150px; }
}
@media print {
  @page { size: A4; margin: 12mm 10mm; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { background: #fff; font-size: 10pt; }
  header.top { padding: 0 0 8px; background: none; color: var(--ink); border-bottom: 3px solid var(--brand); }
  header.top .en { color: var(--muted); }
  header.top h1 { font-size: 20pt; }
  .live { display: none; }
  main { max-width: none; padding: 10px 0 0; }
  .card, .score, .panel { box-shadow: none; border: 1px solid var(--line); }
  .cards { grid-template-columns: repeat(2, 1fr); gap: 8px; }
  .big { font-size: 26pt; }
  .score { grid-template-columns: 1fr; }
  .score .big { font-size: 30pt; }
  .panel { overflow: visible; }
  h2 { break-after: avoid; font-size: 14pt; }
  table { font-size: 7.5pt; }
  th { font-size: 7pt; min-width: 0; }
  th, td { padding: 2px 3px; }
  td.name { min-width: 0; }
  .cell small { font-size: 6.5pt; }
}
"""
