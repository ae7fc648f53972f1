// Random and torn input to every parser a user or a dying guest can reach: each returns data
// or refuses with an InputError (a one-line message), and never crashes.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { InputError } from '../../common/errors.js';
import { fromRoot } from '../../common/paths.js';
import { parseAllowlist } from '../../reports/diff.js';
import { Expectations } from '../../reports/expectations.js';
import { loadResults, withJournal } from '../../reports/merge.js';
import { RESULTS_SCHEMA, type Results } from '../../reports/results.js';
import { parseTap } from '../../runner/tap.js';
import { kernelResult } from '../helpers/results.js';

const STATUSES = ['observed', 'skip', 'error', 'crash', 'timeout'];
const tap = readFileSync(fromRoot('test/fixtures/zap-6.1.tap'), 'utf8');
/** `text` cut at a random place, with random text spliced in at another. */
const torn = (text: string) =>
  fc.tuple(fc.nat({ max: text.length }), fc.nat({ max: text.length }), fc.string({ maxLength: 40 })).map(([cut, at, junk]) => {
    const s = text.slice(0, cut);
    const i = Math.min(at, s.length);
    return s.slice(0, i) + junk + s.slice(i);
  });
const refusesCleanly = (f: () => unknown) => {
  try {
    f();
    return true;
  } catch (e) {
    return e instanceof InputError && !e.message.includes('\n');
  }
};

test('a torn or garbled TAP stream gives cases and problems, never a throw', (t) => {
  fc.assert(
    fc.property(fc.oneof(torn(tap), fc.string({ maxLength: 200 })), (text) => {
      const r = parseTap(text);
      return r.cases.every((c) => STATUSES.includes(c.status) && typeof c.id === 'string') && Array.isArray(r.problems);
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('any JSON as an expectation table is accepted or refused with one line', (t) => {
  const table = JSON.parse(readFileSync(fromRoot('suites/expectations.json'), 'utf8'));
  fc.assert(
    fc.property(fc.jsonValue(), (v) => refusesCleanly(() => new Expectations(v, 'x.json'))),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(torn(JSON.stringify(table)), (text) => refusesCleanly(() => new Expectations(JSON.parse(text), 'x.json')) || !isJson(text)),
    { numRuns: 100 },
  );
  t.pass();
});

test('any text is an allowlist of patterns', (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => parseAllowlist(text).every((a) => a.pattern.length > 0 && a.line >= 1)));
  t.pass();
});

const sample: Results = { schema: RESULTS_SCHEMA, runId: 'r', started: 's', finished: null, complete: false, kernels: [] };

test('a torn results.json is refused in one line; a torn cases.jsonl keeps what it can', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-torn-'));
  const good = JSON.stringify(
    { ...sample, kernels: [{ ...kernelResult(), cases: [{ id: 'x.anon-private', family: 'zap', status: 'skip', reason: 'r' }] }] },
    null,
    2,
  );
  writeFileSync(join(dir, 'results.json'), good);
  t.is(loadResults(dir).kernels[0].cases.length, 1, 'the untorn file is read');
  fc.assert(
    fc.property(
      fc.oneof(
        torn(good),
        fc.jsonValue().map((v) => JSON.stringify(v)),
      ),
      (text) => {
        writeFileSync(join(dir, 'results.json'), text);
        return refusesCleanly(() => loadResults(dir));
      },
    ),
    { numRuns: 200 },
  );
  const line = JSON.stringify({ kernel: 'debian:bookworm', id: 'x.anon-private', family: 'zap', status: 'skip', reason: 'r' });
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          torn(line),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        { maxLength: 5 },
      ),
      (lines) => {
        writeFileSync(join(dir, 'cases.jsonl'), lines.join('\n'));
        const r = withJournal(structuredClone({ ...sample, kernels: [kernelResult()] }), dir);
        return r.kernels[0].cases.every((c) => typeof c.id === 'string' && STATUSES.includes(c.status));
      },
    ),
    { numRuns: 200 },
  );
  t.pass();
});

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
