// junit.xml: one <testsuite> per kernel, one <testcase> per case, in the shape CI systems
// read (Jenkins/GitLab/GitHub reporters: testsuites > testsuite > testcase with
// failure / error / skipped children). A deviation or a pool leak is a failure, a case
// the guest could not run an error, a skip a skip; a run error of the kernel is one
// <testcase name="(run)"> with an error.
import { kernelTitle, poolLeaks, type CaseResult, type Results } from './results.js';

const xml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
    // XML 1.0 forbids most control characters even escaped.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

function testcase(title: string, c: CaseResult, leaked: Set<string>): { text: string; kind: 'pass' | 'failure' | 'error' | 'skipped' } {
  const head = `    <testcase classname="${xml(`${title}.${c.family ?? c.id.split(/[.@]/)[0]}`)}" name="${xml(c.id)}" time="0">`;
  const out = c.observation ? `\n      <system-out>${xml(c.observation.label)}</system-out>` : '';
  if (c.status === 'skip') return { text: `${head}\n      <skipped message="${xml(c.reason ?? '')}"/>\n    </testcase>`, kind: 'skipped' };
  if (c.status === 'error') return { text: `${head}\n      <error message="${xml(c.reason ?? 'error')}"/>\n    </testcase>`, kind: 'error' };
  if (c.status === 'crash' || c.status === 'timeout') {
    return { text: `${head}\n      <failure message="${xml(`${c.status}: ${c.reason ?? ''}`)}" type="${c.status}">${xml(c.console ?? '')}</failure>\n    </testcase>`, kind: 'failure' };
  }
  const v = c.verdict;
  if (v?.status === 'deviation') {
    const msg = `observed ${c.observation!.label}, expected ${v.expected}`;
    return { text: `${head}\n      <failure message="${xml(msg)}" type="deviation">${xml(v.source)}</failure>${out}\n    </testcase>`, kind: 'failure' };
  }
  if (leaked.has(c.id)) {
    return { text: `${head}\n      <failure message="the hugetlb pool did not return to its pre-case baseline" type="pool-leak"/>${out}\n    </testcase>`, kind: 'failure' };
  }
  return { text: `${head}${out}\n    </testcase>`, kind: 'pass' };
}

export function renderJunit(r: Results): string {
  const suites = r.kernels.map((k) => {
    const title = kernelTitle(k, r.kernels);
    const leaked = new Set(poolLeaks(k).map((c) => c.id));
    const cases = k.cases.map((c) => testcase(title, c, leaked));
    if (k.error) {
      cases.push({
        text: `    <testcase classname="${xml(title)}" name="(run)" time="0">\n      <error message="${xml(`${k.error.phase}: ${k.error.message}`)}">${xml(k.error.detail ?? '')}</error>\n    </testcase>`,
        kind: 'error',
      });
    }
    const n = (kind: string) => cases.filter((c) => c.kind === kind).length;
    const attrs = `name="${xml(title)}" tests="${cases.length}" failures="${n('failure')}" errors="${n('error')}" skipped="${n('skipped')}" time="0"`;
    return `  <testsuite ${attrs}>\n${cases.map((c) => c.text).join('\n')}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="mmatrix ${xml(r.runId)}">\n${suites.join('\n')}\n</testsuites>\n`;
}
