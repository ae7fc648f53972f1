// matrix.html: the whole matrix in one self-contained file (no network, no external
// assets). Rows grouped by suite family and memory type, one column per kernel, cells
// coloured by conformance; a cell whose label differs from the kernel column before it is
// marked Δ. Hovering a cell shows its observation and the expectation's source; clicking
// it pins them below the table. Filters by family, memory type and operation.
import { caseIds } from './markdown.js';
import { type CaseResult, kernelTitle, type Results } from './results.js';

interface Cell {
  s: string; // conformant | deviation | none | skip | error | missing
  l: string; // label or status text
  x?: string; // expected label
  src?: string;
  o?: unknown; // the observation record, or the skip/error reason
  leak?: boolean;
}

const famOf = (c: CaseResult | undefined, id: string) => c?.family ?? id.split(/[.@]/)[0];

function cell(c: CaseResult | undefined): Cell {
  if (!c) return { s: 'missing', l: '—' };
  if (c.status === 'skip') return { s: 'skip', l: 'SKIP', o: c.reason };
  if (c.status === 'crash' || c.status === 'timeout') return { s: 'error', l: c.status.toUpperCase(), o: `${c.reason ?? ''}\n${c.console ?? ''}` };
  if (c.status === 'error' || !c.observation) return { s: 'error', l: 'ERROR', o: c.reason };
  const v = c.verdict;
  const base = { l: c.observation.label + (c.observation.kernel ? ' ⚠kernel' : ''), o: c.observation, leak: c.observation.poolBalanced === false };
  if (v?.status === 'conformant' || v?.status === 'deviation') return { s: v.status, x: v.expected, src: v.source, ...base };
  return { s: 'none', ...base };
}

/** Case ids grouped by family, then memory type, each in the order the suites ran them. */
function groupedIds(r: Results): string[] {
  const order = new Map<string, { family: string; memtype: string; i: number }>();
  for (const k of r.kernels) {
    for (const c of k.cases) {
      if (!order.has(c.id)) order.set(c.id, { family: famOf(c, c.id), memtype: c.id.slice(c.id.indexOf('.') + 1), i: order.size });
    }
  }
  const rank = (values: string[]) => new Map([...new Set(values)].map((v, i) => [v, i]));
  const all = [...order.values()];
  const fam = rank(all.map((o) => o.family));
  const mt = rank(all.map((o) => o.memtype));
  const key = (id: string) => {
    const o = order.get(id)!;
    return [fam.get(o.family)!, mt.get(o.memtype)!, o.i];
  };
  return caseIds(r).sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
}

export function htmlData(r: Results) {
  const rows = groupedIds(r).map((id) => {
    const found = r.kernels.map((k) => k.cases.find((c) => c.id === id));
    const first = found.find(Boolean);
    const [opPart, memtype] = [id.slice(0, id.indexOf('.')), id.slice(id.indexOf('.') + 1)];
    return { id, family: famOf(first, id), memtype, op: opPart.split('@')[0], cells: found.map(cell) };
  });
  const kernels = r.kernels.map((k) => ({
    title: kernelTitle(k, r.kernels),
    spec: k.spec,
    version: k.version,
    accel: k.accel,
    error: k.error,
    fingerprint: k.fingerprint ?? null,
  }));
  return { runId: r.runId, complete: r.complete, kernels, rows };
}

const STYLE = `
body{font:13px/1.35 system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 8px}
.controls{display:flex;gap:12px;align-items:center;margin:8px 0;flex-wrap:wrap}
table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:2px 6px;white-space:nowrap}
thead th{position:sticky;top:0;background:#f4f4f4}
tr.group th{background:#e8eef7;text-align:left}
td.case{font-family:ui-monospace,monospace}
td.cell{cursor:pointer;font-family:ui-monospace,monospace}
.conformant{background:#dff3df}.deviation{background:#f8d0d0}.none{background:#f0f0f0}
.skip{background:#fafafa;color:#999}.error,.missing{background:#ffe3b8}
td.changed{box-shadow:inset 4px 0 0 #7a4de0}
td.changed::before{content:"Δ ";color:#7a4de0;font-weight:bold}
.leak::after{content:" ⚠pool";color:#b00}
#detail{white-space:pre-wrap;background:#f8f8f8;border:1px solid #ddd;padding:8px;margin-top:12px;font-family:ui-monospace,monospace}
.legend span{padding:1px 6px;margin-right:6px}
`;

const SCRIPT = `
const D = JSON.parse(document.getElementById('data').textContent);
const $ = (s) => document.querySelector(s);
const opt = (sel, values) => { for (const v of values) { const o = document.createElement('option'); o.value = o.textContent = v; sel.append(o); } };
opt($('#family'), [...new Set(D.rows.map((r) => r.family))]);
opt($('#memtype'), [...new Set(D.rows.map((r) => r.memtype))].sort());
opt($('#op'), [...new Set(D.rows.map((r) => r.op))].sort());
const head = $('thead tr');
for (const k of D.kernels) { const th = document.createElement('th'); th.textContent = k.title; th.title = JSON.stringify(k.fingerprint ?? k.error ?? {}, null, 1); head.append(th); }
function tip(c) {
  const lines = [c.l];
  if (c.x !== undefined) lines.push('expected: ' + c.x, 'source: ' + c.src);
  if (c.o !== undefined) lines.push(typeof c.o === 'string' ? c.o : JSON.stringify(c.o, null, 1));
  return lines.join('\\n');
}
function render() {
  const f = $('#family').value, m = $('#memtype').value, o = $('#op').value, onlyChanged = $('#changed').checked, onlyDev = $('#dev').checked;
  const body = $('tbody'); body.textContent = '';
  let group = '', shown = 0;
  for (const r of D.rows) {
    if ((f && r.family !== f) || (m && r.memtype !== m) || (o && r.op !== o)) continue;
    const changed = r.cells.map((c, i) => i > 0 && c.o && r.cells[i - 1].o && typeof c.o === 'object' && typeof r.cells[i - 1].o === 'object' && c.l !== r.cells[i - 1].l);
    if (onlyChanged && !changed.some(Boolean)) continue;
    if (onlyDev && !r.cells.some((c) => c.s === 'deviation' || c.s === 'error' || c.leak)) continue;
    const g = r.family + ' · ' + r.memtype;
    if (g !== group) { group = g; const tr = body.insertRow(); tr.className = 'group'; const th = document.createElement('th'); th.colSpan = D.kernels.length + 1; th.textContent = g; tr.append(th); }
    const tr = body.insertRow(); tr.dataset.case = r.id;
    const td = tr.insertCell(); td.className = 'case'; td.textContent = r.id;
    r.cells.forEach((c, i) => {
      const cell = tr.insertCell();
      cell.className = 'cell ' + c.s + (changed[i] ? ' changed' : '') + (c.leak ? ' leak' : '');
      cell.textContent = c.l + (c.s === 'conformant' ? ' ✓' : c.s === 'deviation' ? ' ✗' : '');
      cell.title = tip(c);
      cell.onclick = () => { $('#detail').textContent = r.id + ' on ' + D.kernels[i].title + '\\n\\n' + tip(c); };
    });
    shown++;
  }
  $('#count').textContent = shown + ' of ' + D.rows.length + ' cases';
  document.body.dataset.rendered = String(shown);
}
for (const id of ['family', 'memtype', 'op', 'changed', 'dev']) $('#' + id).onchange = render;
// Filters from the address: matrix.html#show=changed, #show=dev, #family=zap&memtype=hugetlbfs-private
// (key=value, so the browser finds no element to jump to).
for (const part of location.hash.slice(1).split('&').filter(Boolean)) {
  const [k, v = ''] = part.split('=').map(decodeURIComponent);
  const el = k === 'show' ? $('#' + v) : ['family', 'memtype', 'op'].includes(k) ? $('#' + k) : null;
  if (!el) continue;
  if (el.type === 'checkbox') el.checked = true; else el.value = v;
}
render();
`;

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function renderHtml(r: Results): string {
  // JSON inside <script>: "</" must not close the element.
  const data = JSON.stringify(htmlData(r)).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mmatrix ${esc(r.runId)}</title><style>${STYLE}</style></head>
<body>
<h1>mmatrix run ${esc(r.runId)}${r.complete ? '' : ' (incomplete)'}</h1>
<div class="legend"><span class="conformant">✓ conforms</span><span class="deviation">✗ deviates</span><span class="none">no expectation</span><span class="skip">SKIP</span><span class="error">ERROR</span><span class="changed">Δ differs from the kernel before</span></div>
<div class="controls">
<label>family <select id="family"><option value="">all</option></select></label>
<label>memory type <select id="memtype"><option value="">all</option></select></label>
<label>operation <select id="op"><option value="">all</option></select></label>
<label><input type="checkbox" id="changed"> only rows that change across kernels</label>
<label><input type="checkbox" id="dev"> only deviations, errors and leaks</label>
<span id="count"></span>
</div>
<table><thead><tr><th>case</th></tr></thead><tbody></tbody></table>
<div id="detail">Click a cell for its full observation and the expectation's source.</div>
<script type="application/json" id="data">${data}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}
