import test from 'ava';
import { expandBraces } from '../../guest/pattern.js';
import { Expectations, versionOf } from '../../reports/expectations.js';
import { allCaseIds } from '../../suites/catalog.js';

const table = (expectations: unknown[]) => ({ schema: 'mmatrix.expectations/1', expectations });

test('braces expand to every alternative', (t) => {
  t.deepEqual(expandBraces('a{,@mid}.{x,y}'), ['a.x', 'a.y', 'a@mid.x', 'a@mid.y']);
});

test('release strings become comparable versions', (t) => {
  t.deepEqual(versionOf('6.12.117+deb13-amd64'), [6, 12, 117]);
  t.deepEqual(versionOf('5.10.0-32-amd64'), [5, 10, 0]);
  t.deepEqual(versionOf('7.3-amd64'), [7, 3]);
});

test('version ranges pick the label; first matching entry wins', (t) => {
  const x = new Expectations(
    table([
      {
        cases: ['op.hugetlbfs-*'],
        versions: [
          { below: '5.18', label: 'EINVAL' },
          { from: '5.18', label: 'ok zeroed' },
        ],
        source: 'c1',
      },
      { cases: ['op.*'], versions: [{ label: 'ok kept' }], source: 'c2' },
    ]),
  );
  t.deepEqual(x.judge('op.hugetlbfs-private', '5.10.0-32-amd64', 'EINVAL'), { status: 'conformant', expected: 'EINVAL', source: 'c1' });
  t.deepEqual(x.judge('op.hugetlbfs-private', '6.1.0-50-amd64', 'EINVAL'), { status: 'deviation', expected: 'ok zeroed', source: 'c1' });
  t.is(x.judge('op.hugetlbfs-private', '5.18.0', 'ok zeroed').status, 'conformant');
  t.is(x.judge('op.anon-private', '6.1', 'ok kept').status, 'conformant');
  t.is(x.judge('other.anon-private', '6.1', 'ok kept').status, 'none');
});

test('a malformed table is named, never half-applied', (t) => {
  t.throws(() => new Expectations({ schema: 'x', expectations: [] }), { message: /schema must be 'mmatrix.expectations\/1'/ });
  t.throws(() => new Expectations(table([{ cases: ['a'], versions: [{ label: 'x' }] }])), { message: /entry 1: every expectation needs its source/ });
  t.throws(() => new Expectations(table([{ cases: ['a'], versions: [{ from: 'new', label: 'x' }], source: 's' }])), { message: /'new' is not a version/ });
  t.throws(() => new Expectations(table([{ cases: 'a', versions: [], source: 's' }])), { message: /cases must be a list/ });
});

test('the shipped table judges every case, and every entry judges some case', (t) => {
  const x = Expectations.load();
  const ids = allCaseIds();
  t.true(ids.length >= 339);
  t.deepEqual(
    ids.filter((id) => x.entryFor(id) < 0),
    [],
    'cases without an expectation',
  );
  const used = new Set(ids.map((id) => x.entryFor(id)));
  const unused = [...Array(x.size).keys()].filter((i) => !used.has(i));
  t.deepEqual(unused, [], 'entries that judge no case (shadowed or misspelt)');
});
