import test from 'ava';
import { quiltSeries } from '../../images/dropbear.js';

test('a quilt series lists its patches in order, without comments, blank lines or options', (t) => {
  t.deepEqual(quiltSeries('# Debian patches\nfix-one.patch\n\nCVE-2023-48795.patch -p1\n  # dropped.patch\nlast.patch # why\n'), [
    'fix-one.patch',
    'CVE-2023-48795.patch',
    'last.patch',
  ]);
});
