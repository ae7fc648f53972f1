import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { field, reread, vmstat } from '../../guest/proc.js';

const MEMINFO =
  'MemTotal:        1489124 kB\nShmemHugePages:        0 kB\nShmem:             12540 kB\nHugePages_Free:       64\nHugepagesize:       2048 kB\n';

test('field picks the whole key at a line start, wherever the line is', (t) => {
  t.is(field(MEMINFO, 'MemTotal'), 1489124);
  t.is(field(MEMINFO, 'Shmem'), 12540); // not ShmemHugePages, which comes first
  t.is(field(MEMINFO, 'HugePages_Free'), 64);
  t.is(field(MEMINFO, 'Hugepagesize'), 2048);
  t.is(field(MEMINFO, 'Total'), null); // only at a line start
  t.is(field(MEMINFO, 'RssAnon'), null);
});

test('reread keeps the file open and reads what it holds now', (t) => {
  const f = join(mkdtempSync(join(tmpdir(), 'mmatrix-proc-')), 'counter');
  writeFileSync(f, 'RssAnon:\t 100 kB\n');
  t.is(field(reread(f), 'RssAnon'), 100);
  writeFileSync(f, 'RssAnon:\t 2048 kB\n'); // same inode, new contents
  t.is(field(reread(f), 'RssAnon'), 2048);
});

test('a /proc/vmstat counter by its key, null for one the kernel lacks', (t) => {
  const n = vmstat('nr_free_pages');
  t.true(typeof n === 'number' && n > 0);
  t.is(vmstat('no_such_counter'), null);
  t.is(vmstat('nr_free'), null, 'a whole key, not a prefix');
});
