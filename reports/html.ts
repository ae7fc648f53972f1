// matrix.html: the whole run in one self-contained file (no network, no external assets), in
// three views. Matrix: one row per case grouped by family and memory type, one column per
// kernel, every column on screen at 1500 px (cells are cut to their column with the full label
// on hover; a glyph says the verdict). Changes: for each pair of adjacent kernels the cells that
// changed, under the expectation entry that explains them (reports/changes.ts). Grid: one kernel
// and one family as operations × memory types, a coloured square per cell.
import { kernelChanges } from './changes.js';
import { type Coverage, coverageSummary, disagreements, loadCoverage } from './coverage.js';
import { GUIDE_INTRO, guideTable } from './guide.js';
import { caseIds } from './markdown.js';
import { outcomeOf } from './outcome.js';
import { type CaseResult, casesById, kernelTitle, type Results } from './results.js';

interface Cell {
  s: string; // conformant | deviation | none | skip | error | missing
  l: string; // label or status text
  k: string; // what happened, for the grid's colour: zeroed kept file mixed errno fault other skip error
  f?: boolean; // the backing memory was freed
  x?: string; // expected label
  src?: string;
  o?: unknown; // the observation record, or the skip/error reason
  leak?: boolean;
}

const famOf = (c: CaseResult | undefined, id: string) => c?.family ?? id.split(/[.@]/)[0];

/** What a label says happened, in one word the grid colours by: an errno, a fault, or what the range read back as. */
export function kindOf(label: string): string {
  const words = label.split(/\s+/);
  if (/^E[A-Z0-9]+$/.test(words[0])) return 'errno';
  if (words.some((w) => /^SIG(BUS|SEGV)$/.test(w))) return 'fault';
  for (const w of ['mixed', 'file', 'zeroed', 'kept']) if (words.includes(w)) return w;
  return 'other';
}

function cell(c: CaseResult | undefined): Cell {
  if (!c) return { s: 'missing', l: '—', k: 'error' };
  if (c.status === 'skip') return { s: 'skip', l: 'SKIP', k: 'skip', o: c.selftest ?? c.reason };
  if (c.selftest) {
    // A selftest judges itself (reports/outcome.ts): a FAIL shows as a deviation, the failing lines on hover.
    const failed = outcomeOf(c) === 'selftest-fail';
    return { s: failed ? 'deviation' : 'conformant', l: c.selftest.result, k: failed ? 'fault' : 'kept', o: c.selftest };
  }
  if (c.status === 'crash' || c.status === 'timeout') return { s: 'error', l: c.status.toUpperCase(), k: 'error', o: `${c.reason ?? ''}\n${c.console ?? ''}` };
  if (c.status === 'error' || !c.observation) return { s: 'error', l: 'ERROR', k: 'error', o: c.reason };
  const v = c.verdict;
  const label = c.observation.label;
  const base = {
    l: label + (c.observation.kernel ? ' ⚠kernel' : ''),
    k: kindOf(label),
    ...(c.observation.freed ? { f: true } : {}),
    o: c.observation,
    leak: c.observation.poolBalanced === false,
  };
  if (v?.status === 'conformant' || v?.status === 'deviation') return { s: v.status, x: v.expected, src: v.source, ...base };
  return { s: 'none', ...base };
}

/** A row's parts: `<op>[@<variant>].<memtype>`; a selftest row `kselftest.mm[@tree].<test>[.<subtest>]`
 * groups by its test (in the memory type's place) and names its subtest as the variant. */
function partsOf(id: string): { memtype: string; op: string; variant: string } {
  const st = /^kselftest\.(mm(?:@\d+\.\d+)?)\.([^.]+)(?:\.(.+))?$/.exec(id);
  if (st) return { memtype: `${st[1]}.${st[2]}`, op: st[2], variant: st[3] ?? '(exit code)' };
  const opPart = id.slice(0, id.indexOf('.'));
  return { memtype: id.slice(id.indexOf('.') + 1), op: opPart.split('@')[0], variant: opPart };
}

/** Case ids grouped by family, then memory type, each in the order the suites ran them. */
function groupedIds(r: Results): string[] {
  const order = new Map<string, { family: string; memtype: string; i: number }>();
  for (const k of r.kernels) {
    for (const c of k.cases) {
      if (!order.has(c.id)) order.set(c.id, { family: famOf(c, c.id), memtype: partsOf(c.id).memtype, i: order.size });
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
  const byId = r.kernels.map(casesById);
  const rows = groupedIds(r).map((id) => {
    const found = byId.map((m) => m.get(id));
    const first = found.find(Boolean);
    return { id, family: famOf(first, id), ...partsOf(id), cells: found.map(cell) };
  });
  const kernels = r.kernels.map((k) => ({
    title: kernelTitle(k, r.kernels),
    spec: k.spec,
    version: k.version,
    accel: k.accel,
    error: k.error,
    fingerprint: k.fingerprint ?? null,
  }));
  return { runId: r.runId, complete: r.complete, kernels, rows, changes: kernelChanges(r) };
}

const KINDS: [string, string][] = [
  ['zeroed', 'zeroed: read back as zeros'],
  ['kept', 'kept: the data survived'],
  ['file', "file: the backing file's data"],
  ['mixed', 'mixed'],
  ['errno', 'an errno'],
  ['fault', 'a signal (SIGBUS, SIGSEGV)'],
  ['other', 'other'],
  ['skip', 'SKIP'],
  ['error', 'ERROR, crash, hang'],
];

const STYLE = `
*{box-sizing:border-box}
body{font:13px/1.35 system-ui,sans-serif;margin:12px;color:#222}
h1{font-size:18px;margin:0 0 6px}
.controls{display:flex;gap:12px;align-items:center;margin:6px 0;flex-wrap:wrap}
nav button{font:inherit;padding:3px 12px;border:1px solid #99a;background:#f4f4f8;cursor:pointer}
nav button.on{background:#2d4a8a;color:#fff}
.view{display:none}.view.on{display:block}
table.guide{table-layout:auto}table.guide td{white-space:normal;max-width:260px;vertical-align:top}
#matrix table{border-collapse:collapse;table-layout:fixed;width:100%}
th,td{border:1px solid #ccc;padding:1px 4px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
thead th{position:sticky;top:0;background:#f4f4f4;z-index:1}
tr.group th{background:#e8eef7;text-align:left}
td.case,td.cell{font:11px/1.4 ui-monospace,monospace}
td.cell{cursor:pointer}
.conformant{background:#dff3df}.deviation{background:#f8d0d0}.none{background:#f0f0f0}
.skip{background:#fafafa;color:#999}.error,.missing{background:#ffe3b8}
td.changed{box-shadow:inset 3px 0 0 #7a4de0}
.leak::after{content:" ⚠pool";color:#b00}
#detail{white-space:pre-wrap;background:#f8f8f8;border:1px solid #ddd;padding:8px;margin-top:12px;font-family:ui-monospace,monospace}
.legend span{padding:1px 6px;margin-right:6px;display:inline-block}
.pair{margin:10px 0 16px}.pair h2{font-size:15px;margin:6px 0}
details{margin:3px 0 3px 8px}summary{cursor:pointer}
details table{border-collapse:collapse;margin:4px 0 6px 16px}details td{font:11px ui-monospace,monospace}
.count{display:inline-block;min-width:3em;text-align:right;font-weight:bold;margin-right:6px}
.grid{border-collapse:collapse}.grid td,.grid th{border:0;padding:1px}
.grid th.mt{writing-mode:vertical-rl;transform:rotate(180deg);font:11px ui-monospace,monospace;height:190px;text-align:left;vertical-align:bottom}
.grid th.op{font:11px ui-monospace,monospace;text-align:right;padding-right:6px}
.sq{width:16px;height:16px;display:inline-block;border-radius:2px}
.sq.freed{box-shadow:inset 0 0 0 3px rgba(0,0,0,.55)}
.k-zeroed{background:#4c9be8}.k-kept{background:#5cb85c}.k-file{background:#9b6ad6}.k-mixed{background:#e3cc3a}
.k-errno{background:#d9534f}.k-fault{background:#7a1f1f}.k-other{background:#9aa}.k-skip{background:#eee}.k-error{background:#f0ad4e}
.sq.none{background:transparent}
`;

const SCRIPT = `
const D = JSON.parse(document.getElementById('data').textContent);
const $ = (s) => document.querySelector(s);
const el = (tag, props = {}, ...kids) => { const e = Object.assign(document.createElement(tag), props); e.append(...kids); return e; };
const opt = (sel, values, labels = values) => values.forEach((v, i) => sel.append(el('option', { value: v, textContent: labels[i] })));
const glyph = (c) => (c.s === 'conformant' ? '✓ ' : c.s === 'deviation' ? '✗ ' : '');
function tip(c) {
  const lines = [c.l];
  if (c.x !== undefined) lines.push('expected: ' + c.x, 'source: ' + c.src);
  if (c.o !== undefined) lines.push(typeof c.o === 'string' ? c.o : JSON.stringify(c.o, null, 1));
  return lines.join('\\n');
}
// ---- views
function show(name) {
  for (const v of document.querySelectorAll('.view')) v.classList.toggle('on', v.id === name);
  for (const b of document.querySelectorAll('nav button')) b.classList.toggle('on', b.dataset.view === name);
  document.body.dataset.view = name;
}
for (const b of document.querySelectorAll('nav button')) b.onclick = () => show(b.dataset.view);
// ---- matrix
opt($('#family'), ['', ...new Set(D.rows.map((r) => r.family))], ['all', ...new Set(D.rows.map((r) => r.family))]);
const mts = [...new Set(D.rows.map((r) => r.memtype))].sort();
opt($('#memtype'), ['', ...mts], ['all', ...mts]);
const ops = [...new Set(D.rows.map((r) => r.op))].sort();
opt($('#op'), ['', ...ops], ['all', ...ops]);
const cols = $('#matrix colgroup');
const head = $('#matrix thead tr');
for (const k of D.kernels) {
  cols.append(el('col'));
  head.append(el('th', { textContent: k.title, title: k.title + '\\n' + JSON.stringify(k.fingerprint ?? k.error ?? {}, null, 1) }));
}
function render() {
  const f = $('#family').value, m = $('#memtype').value, o = $('#op').value, onlyChanged = $('#changed').checked, onlyDev = $('#dev').checked;
  const body = $('#matrix tbody'); body.textContent = '';
  let group = '', shown = 0;
  for (const r of D.rows) {
    if ((f && r.family !== f) || (m && r.memtype !== m) || (o && r.op !== o)) continue;
    const changed = r.cells.map((c, i) => i > 0 && typeof c.o === 'object' && typeof r.cells[i - 1].o === 'object' && c.l !== r.cells[i - 1].l);
    if (onlyChanged && !changed.some(Boolean)) continue;
    if (onlyDev && !r.cells.some((c) => c.s === 'deviation' || c.s === 'error' || c.leak)) continue;
    const g = r.family + ' · ' + r.memtype;
    if (g !== group) { group = g; const tr = body.insertRow(); tr.className = 'group'; tr.append(el('th', { colSpan: D.kernels.length + 1, textContent: g })); }
    const tr = body.insertRow(); tr.dataset.case = r.id;
    const td = tr.insertCell(); td.className = 'case'; td.textContent = r.id; td.title = r.id;
    r.cells.forEach((c, i) => {
      const cell = tr.insertCell();
      cell.className = 'cell ' + c.s + (changed[i] ? ' changed' : '') + (c.leak ? ' leak' : '');
      cell.textContent = glyph(c) + c.l;
      cell.title = (changed[i] ? 'Δ changed from ' + r.cells[i - 1].l + '\\n' : '') + tip(c);
      cell.onclick = () => { $('#detail').textContent = r.id + ' on ' + D.kernels[i].title + '\\n\\n' + tip(c); };
    });
    shown++;
  }
  $('#count').textContent = shown + ' of ' + D.rows.length + ' cases';
  document.body.dataset.rendered = String(shown);
}
for (const id of ['family', 'memtype', 'op', 'changed', 'dev']) $('#' + id).onchange = render;
// ---- changes
for (const p of D.changes) {
  const sec = el('section', { className: 'pair' }, el('h2', { textContent: p.from + ' → ' + p.to + ': ' + p.total + ' changed cells' }));
  for (const g of p.groups) {
    const what = g.source === null ? el('b', { textContent: 'no expectation entry explains these' }) : el('span');
    if (g.source !== null && g.commit && g.commit.url) what.append(el('a', { href: g.commit.url, textContent: g.commit.hash }), ' ');
    if (g.source !== null) what.append(g.source);
    const rows = el('table');
    for (const c of g.changes) { const tr = rows.insertRow(); for (const t of [c.id, c.from, '→', c.to]) tr.insertCell().textContent = t; }
    const box = el('details', { className: 'group' + (g.source === null ? ' unexplained' : '') }, el('summary', {}, el('span', { className: 'count', textContent: g.changes.length }), what), rows);
    box.dataset.count = String(g.changes.length);
    sec.append(box);
  }
  if (!p.groups.length) sec.append(el('p', { textContent: 'no cell changed' }));
  $('#changes').append(sec);
}
// ---- grid
opt($('#gkernel'), D.kernels.map((_, i) => String(i)), D.kernels.map((k) => k.title));
const fams = [...new Set(D.rows.map((r) => r.family))];
opt($('#gfamily'), fams);
function grid() {
  const ki = Number($('#gkernel').value), fam = $('#gfamily').value;
  const rows = D.rows.filter((r) => r.family === fam);
  const gm = [...new Set(rows.map((r) => r.memtype))], gv = [...new Set(rows.map((r) => r.variant))];
  const t = el('table', { className: 'grid' });
  const hr = t.insertRow(); hr.append(el('th'));
  for (const m of gm) hr.append(el('th', { className: 'mt', textContent: m }));
  let squares = 0;
  for (const v of gv) {
    const tr = t.insertRow(); tr.append(el('th', { className: 'op', textContent: v }));
    for (const m of gm) {
      const r = rows.find((x) => x.variant === v && x.memtype === m);
      const c = r && r.cells[ki];
      const sq = el('span', { className: 'sq ' + (c ? 'k-' + c.k + (c.f ? ' freed' : '') : 'none') });
      if (c) { sq.title = r.id + ' on ' + D.kernels[ki].title + '\\n' + tip(c); squares++; }
      tr.insertCell().append(sq);
    }
  }
  $('#gridbox').replaceChildren(t);
  document.body.dataset.squares = String(squares);
}
$('#gkernel').onchange = grid; $('#gfamily').onchange = grid;
// Filters and the view from the address: matrix.html#show=changed, #show=dev,
// #family=zap&memtype=hugetlbfs-private, #view=changes, #view=grid&kernel=2&family=zap
// (key=value, so the browser finds no element to jump to).
let view = 'matrix';
for (const part of location.hash.slice(1).split('&').filter(Boolean)) {
  const [k, v = ''] = part.split('=').map(decodeURIComponent);
  if (k === 'view') { view = v; continue; }
  const e = k === 'show' ? $('#' + v) : ['family', 'memtype', 'op'].includes(k) ? $('#' + k) : k === 'kernel' ? $('#gkernel') : null;
  if (k === 'family') $('#gfamily').value = v;
  if (!e) continue;
  if (e.type === 'checkbox') e.checked = true; else e.value = v;
}
render(); grid(); show(['matrix', 'changes', 'grid', 'guide', 'coverage'].includes(view) ? view : 'matrix');
// How the page laid out, for the browser test and anyone curious: the page's width and how many kernel columns fit.
const right = [...head.children].filter((th) => th.getBoundingClientRect().right <= document.documentElement.clientWidth).length - 1;
document.body.dataset.scrollWidth = String(document.documentElement.scrollWidth);
document.body.dataset.columnsVisible = String(right);
`;

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** The guide view: seed 002's table, rendered here (it needs no script). */
function guideHtml(r: Results): string {
  const t = guideTable(r);
  if (!t) return '';
  const head = `<tr><th>memory type</th>${t.kernels.map((k) => `<th>${esc(k)}</th>`).join('')}</tr>`;
  const body = t.rows.map((row) => `<tr><td>${esc(row.memtype)}</td>${row.cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('');
  return `<div id="guide" class="view"><p>${esc(GUIDE_INTRO).replace(/`([^`]+)`/g, '<code>$1</code>')}</p><table class="guide"><thead>${head}</thead><tbody>${body}</tbody></table></div>`;
}

/** The coverage view: how much the selftests cover, and where a selftest and its cells disagree, in red. */
function coverageHtml(r: Results, map: Coverage): string {
  const d = disagreements(r, map);
  const list = d.length
    ? `<h3 class="deviation">Selftests and cells that disagree: one of them is wrong</h3><ul>${d.map((x) => `<li class="deviation"><b>${esc(x.kernel)}</b>: ${esc(x.selftest)}, while ${esc(x.cells)}. <code>${esc(x.where)}</code>: ${esc(x.asserts)}</li>`).join('')}</ul>`
    : '<p>No selftest in this run disagrees with the cells it covers.</p>';
  return `<div id="coverage" class="view"><p>${esc(coverageSummary(r, map)).replace(/`([^`]+)`/g, '<code>$1</code>')}</p>${list}</div>`;
}

export function renderHtml(r: Results, map: Coverage = loadCoverage()): string {
  // JSON inside <script>: "</" must not close the element.
  const data = JSON.stringify(htmlData(r)).replace(/</g, '\\u003c');
  const kinds = KINDS.map(([k, t]) => `<span><span class="sq k-${k}"></span> ${esc(t)}</span>`).join('');
  const guide = guideHtml(r);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mmatrix ${esc(r.runId)}</title><style>${STYLE}</style></head>
<body>
<h1>mmatrix run ${esc(r.runId)}${r.complete ? '' : ' (incomplete)'}</h1>
<nav><button data-view="matrix">Matrix</button> <button data-view="changes">Changes between kernels</button> <button data-view="grid">Grid</button>${guide ? ' <button data-view="guide">Zap call per memory type</button>' : ''} <button data-view="coverage">Selftest coverage</button></nav>
<div id="matrix" class="view">
<div class="legend"><span class="conformant">✓ conforms</span><span class="deviation">✗ deviates</span><span class="none">no expectation</span><span class="skip">SKIP</span><span class="error">ERROR</span><span class="changed" style="box-shadow:inset 3px 0 0 #7a4de0">differs from the kernel before</span> · hover a cell for its whole label, click to pin it</div>
<div class="controls">
<label>family <select id="family"></select></label>
<label>memory type <select id="memtype"></select></label>
<label>operation <select id="op"></select></label>
<label><input type="checkbox" id="changed"> only rows that change across kernels</label>
<label><input type="checkbox" id="dev"> only deviations, errors and leaks</label>
<span id="count"></span>
</div>
<table><colgroup><col style="width:380px"></colgroup><thead><tr><th>case</th></tr></thead><tbody></tbody></table>
<div id="detail">Click a cell for its full observation and the expectation's source.</div>
</div>
<div id="changes" class="view"><p>For each pair of adjacent kernels, the cells whose label changed, under the expectation entry whose source explains the change (the table judged both cells by it), and those no entry explains. Click a group to open it.</p></div>
<div id="grid" class="view">
<div class="controls"><label>kernel <select id="gkernel"></select></label><label>family <select id="gfamily"></select></label></div>
<div class="legend">${kinds}<span><span class="sq k-kept freed"></span> dark inner border: backing freed</span></div>
<div id="gridbox"></div>
</div>
${guide}
${coverageHtml(r, map)}
<script type="application/json" id="data">${data}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}
