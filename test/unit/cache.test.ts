import test from 'ava';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOnce } from '../../images/cache.js';

test('buildOnce: callers asking at once share one build; later ones find it made', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'mmatrix-cache-')), 'entry');
  let makes = 0;
  const make = async (tmp: string) => {
    makes += 1;
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(join(tmp, 'made'), 'x');
  };
  const [a, b] = await Promise.all([buildOnce(dir, make), buildOnce(dir, make)]);
  t.deepEqual([a, b, makes], [true, false, 1]);
  t.true(existsSync(join(dir, 'made')));
  t.false(await buildOnce(dir, make));
  t.is(makes, 1);
});
