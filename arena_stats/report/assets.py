"""The page's style sheet and script, inlined into every report (no network, works from file://).

The script is small and dependency-free: it sorts the tables (click a column head; numbers
sort by their exact ``data-value``), draws the model x model matrices on canvases from the
JSON embedded in the page (one colour table per matrix, computed by matplotlib in Python so
that the page and the static figures use the same colour maps), shows a tooltip with the exact
values under the pointer, and records script errors in ``body[data-errors]`` and readiness in
``body[data-ready]``, which the browser test reads. Opening the page with ``#selftest`` sorts
the leaderboard by votes and records the order in ``body[data-selftest]``.
"""

from __future__ import annotations

__all__ = ["STYLE", "SCRIPT", "ERROR_TRAP"]

#: Runs first, in the head: every later script error is kept.
ERROR_TRAP = """
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message || e)); });
"""

STYLE = """
:root { --fg: #1d1d1f; --muted: #6e6e73; --line: #d2d2d7; --shade: #f2f2f5; --accent: #1f77b4;
        --pass: #2e7d32; --warn: #b26a00; --fail: #c62828; --skip: #8e8e93; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Helvetica, Arial, sans-serif;
       color: var(--fg); margin: 0; background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 20px 60px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 36px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
p.sub, .note { color: var(--muted); margin: 4px 0 12px; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { position: sticky; top: 0; background: #fff; font-weight: 600; cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
td.text, th.text { text-align: left; }
tr.shade td { background: var(--shade); }
td.model { font-weight: 500; }
.ci { color: var(--muted); }
.badge { display: inline-block; min-width: 44px; text-align: center; padding: 1px 6px; border-radius: 4px;
         color: #fff; font-size: 12px; font-weight: 600; text-transform: uppercase; }
.badge.pass { background: var(--pass); } .badge.warn { background: var(--warn); }
.badge.fail { background: var(--fail); } .badge.skip { background: var(--skip); }
td.msg { white-space: normal; text-align: left; }
details summary { cursor: pointer; color: var(--accent); font-size: 12px; }
details table { margin: 6px 0 10px; font-size: 12px; }
.scroll { overflow-x: auto; }
.figure { margin: 8px 0 4px; }
.matrices .figure { margin-bottom: 28px; }
canvas.heatmap { display: block; }
#tooltip { position: fixed; pointer-events: none; background: rgba(29, 29, 31, 0.92); color: #fff;
           padding: 4px 8px; border-radius: 4px; font-size: 12px; display: none; z-index: 10; white-space: pre; }
svg text { font-family: inherit; }
.legend span { display: inline-block; margin-right: 12px; font-size: 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""

SCRIPT = r"""
(function () {
  'use strict';
  var tip = document.getElementById('tooltip');

  function showTip(text, x, y) {
    tip.textContent = text; tip.style.display = 'block';
    var w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.min(x + 14, window.innerWidth - w - 4) + 'px';
    tip.style.top = Math.min(y + 14, window.innerHeight - h - 4) + 'px';
  }
  function hideTip() { tip.style.display = 'none'; }

  // ---------------------------------------------------------------- sortable tables
  function cellKey(td, numeric) {
    var v = td.getAttribute('data-value');
    if (v === null) { v = td.textContent.trim(); }
    if (!numeric) { return v.toLowerCase(); }
    var x = parseFloat(v);
    return isNaN(x) ? -Infinity : x;
  }
  function sortTable(table, col, descending) {
    var body = table.tBodies[0];
    var head = table.tHead.rows[0].cells[col];
    var numeric = head.getAttribute('data-type') !== 'text';
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (r, i) { r.__i = i; });
    rows.sort(function (a, b) {
      var x = cellKey(a.cells[col], numeric), y = cellKey(b.cells[col], numeric);
      if (x < y) { return descending ? 1 : -1; }
      if (x > y) { return descending ? -1 : 1; }
      return a.__i - b.__i;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) { th.removeAttribute('aria-sort'); });
    head.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener('click', function () {
        var now = th.getAttribute('aria-sort');
        var desc = now ? now === 'ascending' : th.getAttribute('data-type') !== 'text';
        sortTable(table, col, desc);
      });
    });
  });

  // ---------------------------------------------------------------- heatmaps
  function drawHeatmap(canvas, spec) {
    var n = spec.models.length, label = spec.label;
    // cells as large as the spec asks, but the whole matrix within its container
    var room = (canvas.parentNode.clientWidth || 900) - label - 8;
    var cell = Math.max(4, Math.min(spec.cell, Math.floor(room / Math.max(n, 1))));
    var size = label + n * cell + 8;
    var ratio = window.devicePixelRatio || 1;
    canvas.width = size * ratio; canvas.height = size * ratio;
    canvas.style.width = size + 'px'; canvas.style.height = size + 'px';
    var ctx = canvas.getContext('2d');
    ctx.scale(ratio, ratio);
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, size, size);
    var font = Math.max(7, Math.min(12, cell - 2));
    ctx.font = font + 'px sans-serif';
    ctx.fillStyle = '#1d1d1f';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (var r = 0; r < n; r++) {
      if (cell >= 7) { ctx.fillText(spec.short[r], label - 4, label + (r + 0.5) * cell); }
    }
    ctx.save();
    ctx.textAlign = 'left';
    for (var c = 0; c < n; c++) {
      if (cell >= 7) {
        ctx.save(); ctx.translate(label + (c + 0.5) * cell, label - 4); ctx.rotate(-Math.PI / 2);
        ctx.fillText(spec.short[c], 0, 0); ctx.restore();
      }
    }
    ctx.restore();
    var lut = spec.lut, steps = lut.length;
    for (r = 0; r < n; r++) {
      for (c = 0; c < n; c++) {
        var v = spec.values[r][c], x = label + c * cell, y = label + r * cell;
        if (r === c) { continue; }
        if (v === null) {
          ctx.strokeStyle = '#8e8e93'; ctx.lineWidth = 1; ctx.beginPath();
          ctx.moveTo(x + cell * 0.25, y + cell * 0.25); ctx.lineTo(x + cell * 0.75, y + cell * 0.75);
          ctx.moveTo(x + cell * 0.75, y + cell * 0.25); ctx.lineTo(x + cell * 0.25, y + cell * 0.75);
          ctx.stroke(); continue;
        }
        var t = spec.log ? (Math.log(Math.max(v, spec.vmin)) - Math.log(spec.vmin)) /
                           (Math.log(spec.vmax) - Math.log(spec.vmin))
                         : (v - spec.vmin) / (spec.vmax - spec.vmin);
        t = Math.max(0, Math.min(1, t));
        ctx.fillStyle = lut[Math.min(steps - 1, Math.floor(t * steps))];
        ctx.fillRect(x, y, cell, cell);
        if (spec.annotate && cell >= 26) {
          var rgb = parseInt(ctx.fillStyle.slice(1), 16);
          var lum = (0.299 * (rgb >> 16) + 0.587 * ((rgb >> 8) & 255) + 0.114 * (rgb & 255)) / 255;
          ctx.fillStyle = lum < 0.45 ? '#fff' : '#1d1d1f';
          ctx.textAlign = 'center';
          ctx.font = Math.min(11, Math.floor(cell / 3.2)) + 'px sans-serif';
          ctx.fillText(spec.log ? (v >= 10000 ? Math.round(v / 1000) + 'k' : String(Math.round(v)))
                                : v.toFixed(2), x + cell / 2, y + cell / 2);
          ctx.font = font + 'px sans-serif';
        }
      }
    }
    ctx.strokeStyle = '#d2d2d7'; ctx.lineWidth = 1;
    ctx.strokeRect(label - 0.5, label - 0.5, n * cell + 1, n * cell + 1);
    canvas.setAttribute('data-drawn', String(n));
    canvas.addEventListener('mousemove', function (e) {
      var box = canvas.getBoundingClientRect();
      var c = Math.floor((e.clientX - box.left - label) / cell), r = Math.floor((e.clientY - box.top - label) / cell);
      if (r < 0 || c < 0 || r >= n || c >= n || r === c) { hideTip(); return; }
      var v = spec.values[r][c];
      var text = spec.models[r] + '  vs  ' + spec.models[c] + '\n' + spec.what + ': ' +
        (v === null ? 'never met' : (spec.log ? Math.round(v).toLocaleString('en-US') : v.toFixed(3)));
      if (spec.counts) { text += '\nbattles: ' + spec.counts[r][c]; }
      showTip(text, e.clientX, e.clientY);
    });
    canvas.addEventListener('mouseleave', hideTip);
  }
  Array.prototype.forEach.call(document.querySelectorAll('canvas.heatmap'), function (canvas) {
    var spec = JSON.parse(document.getElementById(canvas.getAttribute('data-spec')).textContent);
    drawHeatmap(canvas, spec);
  });

  // ---------------------------------------------------------------- svg hover
  Array.prototype.forEach.call(document.querySelectorAll('[data-tip]'), function (el) {
    el.addEventListener('mousemove', function (e) { showTip(el.getAttribute('data-tip'), e.clientX, e.clientY); });
    el.addEventListener('mouseleave', hideTip);
  });

  // ---------------------------------------------------------------- self test and readiness
  if (location.hash === '#selftest') {
    var board = document.getElementById('board');
    var col = Array.prototype.map.call(board.tHead.rows[0].cells, function (th) {
      return th.getAttribute('data-key'); }).indexOf('battles');
    sortTable(board, col, true);
    document.body.setAttribute('data-selftest', JSON.stringify(Array.prototype.map.call(board.tBodies[0].rows,
      function (r) { return r.getAttribute('data-model'); })));
  }
  document.body.setAttribute('data-errors', JSON.stringify(window.__errors));
  document.body.setAttribute('data-ready', '1');
})();
"""
