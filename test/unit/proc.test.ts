import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { field, pmdKbIn, pmdKbOf, reread, vmstat } from '../../guest/proc.js';

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

// Three VMAs as /proc/<pid>/smaps prints them (fields trimmed): the middle one holds a THP.
const vma = (range: string, anonHuge: number, shmemPmd: number) =>
  `${range} rw-p 00000000 00:00 0 \nSize:               2048 kB\nAnonHugePages:   ${anonHuge} kB\nShmemPmdMapped:  ${shmemPmd} kB\nFilePmdMapped:        0 kB\nVmFlags: rd wr mr mw me ac hg \n`;
const SMAPS = vma('7f0000000000-7f0000200000', 0, 0) + vma('7f0000200000-7f0000600000', 2048, 0) + vma('7f0000600000-7f0000800000', 0, 2048);

test('pmdKbIn sums the PMD-mapped kB of the VMAs the range overlaps, and no others', (t) => {
  t.is(pmdKbIn(SMAPS, 0x7f0000200000n, 4 << 20), 2048);
  t.is(pmdKbIn(SMAPS, 0x7f0000300000n, 1 << 20), 2048, 'a range inside a VMA counts the whole VMA');
  t.is(pmdKbIn(SMAPS, 0x7f0000000000n, 2 << 20), 0, 'the end is exclusive: the next VMA starts there');
  t.is(pmdKbIn(SMAPS, 0x7f0000000000n, 8 << 20), 4096, 'AnonHugePages and ShmemPmdMapped both count');
  t.is(pmdKbIn(SMAPS, 0x7f0001000000n, 2 << 20), 0);
});

test('pmdKbOf sums the three fields of a text', (t) => {
  t.is(pmdKbOf(SMAPS), 4096);
  t.is(pmdKbOf('Rss:  100 kB\nAnonHugePages:        0 kB\nShmemPmdMapped:       0 kB\n'), 0);
  t.is(pmdKbOf(''), 0);
});
