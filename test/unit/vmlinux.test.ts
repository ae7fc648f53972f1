import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseLdd } from '../../images/initramfs.js';
import { bzImageRelease, extractVmlinux, hasPvhNote } from '../../images/vmlinux.js';

/** A minimal ELF64 with one PT_NOTE segment holding one note. */
function elfWithNote(name: string, type: number): Buffer {
  const note = Buffer.alloc(12 + 4 + 4);
  note.writeUInt32LE(name.length + 1, 0);
  note.writeUInt32LE(4, 4);
  note.writeUInt32LE(type, 8);
  note.write(name, 12, 'latin1');
  const b = Buffer.alloc(64 + 56 + note.length);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2; // ELFCLASS64
  b.writeBigUInt64LE(64n, 0x20); // e_phoff
  b.writeUInt16LE(56, 0x36);
  b.writeUInt16LE(1, 0x38);
  b.writeUInt32LE(4, 64); // PT_NOTE
  b.writeBigUInt64LE(BigInt(120), 64 + 8); // p_offset
  b.writeBigUInt64LE(BigInt(note.length), 64 + 32); // p_filesz
  note.copy(b, 120);
  return b;
}

test('the Xen PHYS32_ENTRY note marks a PVH-bootable vmlinux', (t) => {
  t.true(hasPvhNote(elfWithNote('Xen', 18)));
  t.false(hasPvhNote(elfWithNote('Xen', 17)));
  t.false(hasPvhNote(elfWithNote('GNU', 18)));
  t.false(hasPvhNote(Buffer.from('not an elf at all, not an elf at all, not an elf at all, padding.....')));
});

test('vmlinux is found behind the compressor magic, as extract-vmlinux does', (t) => {
  const elf = elfWithNote('Xen', 18);
  const xz = spawnSync('xz', ['-c'], { input: elf }).stdout;
  const bz = Buffer.concat([Buffer.alloc(1000, 0x90), xz, Buffer.alloc(64, 0xee)]);
  t.deepEqual(extractVmlinux(bz), elf);
  t.is(extractVmlinux(Buffer.alloc(4096, 0x90)), null);
});

test('the release string comes from the bzImage setup header', (t) => {
  const b = Buffer.alloc(0x1000);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x600, 0x20e);
  b.write('6.12.0-rc1 (me@host) #1 SMP\0', 0x800, 'latin1');
  const f = join(mkdtempSync(join(tmpdir(), 'mm-')), 'bzImage');
  writeFileSync(f, b);
  t.is(bzImageRelease(f), '6.12.0-rc1');
  writeFileSync(f, Buffer.alloc(0x1000));
  t.is(bzImageRelease(f), null);
});

test('ldd output gives the libraries and the loader', (t) => {
  const out = `\tlinux-vdso.so.1 (0x00007ffd)\n\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f97)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f97)\n`;
  t.deepEqual(parseLdd(out), ['/lib/x86_64-linux-gnu/libz.so.1', '/lib64/ld-linux-x86-64.so.2']);
});
