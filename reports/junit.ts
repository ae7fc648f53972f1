// junit.xml: one <testsuite> per kernel, one <testcase> per case, in the shape CI systems
// read (Jenkins/GitLab/GitHub reporters: testsuites > testsuite > testcase with
// failure / error / skipped children), each case's element as outcome.ts decides; a run
// error of the kernel is one <testcase name="(run)"> with an error.
import { OUTCOMES, type Outcome, type OutcomeRow, outcomeOf } from './outcome.js';
import { type CaseResult, kernelTitle, labelOf, type Results } from './results.js';

/** JUnit's time: seconds, to the millisecond. */
const seconds = (ms: number) => (ms / 1000).toFixed(3);

const xml = (s: string) =>
  s
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
    // XML 1.0 forbids most control characters even escaped.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

function testcase(title: string, c: CaseResult): { text: string; kind: OutcomeRow['junit'] } {
  const head = `    <testcase classname="${xml(`${title}.${c.family ?? c.id.split(/[.@]/)[0]}`)}" name="${xml(c.id)}" time="${seconds(c.durationMs ?? 0)}">`;
  const out = c.status === 'observed' ? `\n      <system-out>${xml(labelOf(c))}</system-out>` : '';
  const outcome = outcomeOf(c);
  const kind = OUTCOMES[outcome].junit;
  const body = (message: string, detail = '') =>
    kind === 'skipped' ? `<skipped message="${xml(message)}"/>` : `<${kind} message="${xml(message)}" type="${outcome}">${xml(detail)}</${kind}>`;
  const v = c.verdict;
  const child: Record<Outcome, () => string> = {
    conformant: () => '',
    unjudged: () => '',
    skip: () => body(c.reason ?? ''),
    'case-error': () => body(c.reason ?? 'error'),
    crash: () => body(`crash: ${c.reason ?? ''}`, c.console ?? ''),
    'hung-kernel': () => body(`timeout: ${c.reason ?? ''}`, c.console ?? ''),
    'hung-test': () => body(`timeout: ${c.reason ?? ''}`, c.console ?? ''),
    deviation: () =>
      body(`observed ${c.observation!.label}, expected ${v?.status === 'deviation' ? v.expected : ''}`, v?.status === 'deviation' ? v.source : ''),
    'pool-leak': () => body('the hugetlb pool did not return to its pre-case baseline'),
    'kernel-trouble': () => body('the kernel logged trouble during the case', (c.observation?.kernel?.log ?? []).join('\n')),
    'selftest-pass': () => '',
    'selftest-fail': () => body(`${c.selftest?.test ?? ''}: FAIL`, c.selftest?.detail ?? ''),
    missing: () => body('no result'),
  };
  const inner = child[outcome]();
  return { text: `${head}${inner ? `\n      ${inner}` : ''}${out}\n    </testcase>`, kind };
}

export function renderJunit(r: Results): string {
  const suites = r.kernels.map((k) => {
    const title = kernelTitle(k, r.kernels);
    const cases = k.cases.map((c) => testcase(title, c));
    if (k.error) {
      cases.push({
        text: `    <testcase classname="${xml(title)}" name="(run)" time="0">\n      <error message="${xml(`${k.error.phase}: ${k.error.message}`)}">${xml(k.error.detail ?? '')}</error>\n    </testcase>`,
        kind: 'error',
      });
    }
    const n = (kind: string) => cases.filter((c) => c.kind === kind).length;
    const attrs = `name="${xml(title)}" tests="${cases.length}" failures="${n('failure')}" errors="${n('error')}" skipped="${n('skipped')}" time="${seconds(k.cases.reduce((sum, c) => sum + (c.durationMs ?? 0), 0))}"`;
    return `  <testsuite ${attrs}>\n${cases.map((c) => c.text).join('\n')}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="mmatrix ${xml(r.runId)}">\n${suites.join('\n')}\n</testsuites>\n`;
}
