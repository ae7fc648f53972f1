import test from 'ava';
import { compareDebVersions as cmp } from '../../images/debversion.js';

const ordered: [string, string][] = [
  ['6.1.175-1', '6.1.176-1'],
  ['7.3~rc7-1~exp1', '7.3-1'],
  ['7.3~rc6-1~exp1', '7.3~rc7-1~exp1'],
  ['1.0-1', '1:0.1-1'],
  ['6.12.9-1', '6.12.117-1'],
  ['1.0a', '1.0b'],
  ['1.0', '1.0+deb12u1'],
];

for (const [lo, hi] of ordered) {
  test(`${lo} < ${hi}`, (t) => {
    t.is(cmp(lo, hi), -1);
    t.is(cmp(hi, lo), 1);
  });
}

test('equal versions compare 0', (t) => t.is(cmp('6.1.176-1', '6.1.176-1'), 0));
