// The uncompressed vmlinux inside a bzImage, as the kernel's scripts/extract-vmlinux
// finds it: look for each compressor's magic, decompress from there, keep what is ELF.
// Booting vmlinux through its PVH entry skips the in-guest decompression, which under
// TCG costs seconds.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CODECS: { magic: number[]; cmd: string[] }[] = [
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], cmd: ['xz', '-dc', '--single-stream'] },
  { magic: [0x28, 0xb5, 0x2f, 0xfd], cmd: ['zstd', '-dcq'] },
  { magic: [0x1f, 0x8b, 0x08], cmd: ['gzip', '-dc'] },
  { magic: [0x02, 0x21, 0x4c, 0x18], cmd: ['lz4', '-dc'] },
];

const isElf = (b: Buffer) => b.length > 64 && b.readUInt32BE(0) === 0x7f454c46;

/** The vmlinux ELF in a bzImage, or null when none of the codecs finds one. */
export function extractVmlinux(bzImage: Buffer): Buffer | null {
  for (const { magic, cmd } of CODECS) {
    const needle = Buffer.from(magic);
    for (let at = bzImage.indexOf(needle); at >= 0; at = bzImage.indexOf(needle, at + 1)) {
      const r = spawnSync(cmd[0], cmd.slice(1), { input: bzImage.subarray(at), maxBuffer: 1 << 30 });
      // Trailing data after the stream makes some decompressors exit non-zero; judge by output.
      if (r.stdout && isElf(r.stdout)) return r.stdout;
    }
  }
  return null;
}

/** Whether an ELF64 vmlinux has the Xen PVH entry note QEMU boots it through. */
export function hasPvhNote(elf: Buffer): boolean {
  if (!isElf(elf) || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 4) continue; // PT_NOTE
    let off = Number(elf.readBigUInt64LE(ph + 8));
    const end = off + Number(elf.readBigUInt64LE(ph + 32));
    while (off + 12 <= end) {
      const namesz = elf.readUInt32LE(off);
      const descsz = elf.readUInt32LE(off + 4);
      const type = elf.readUInt32LE(off + 8);
      const name = elf.toString('latin1', off + 12, off + 12 + namesz - 1);
      if (name === 'Xen' && type === 18) return true; // XEN_ELFNOTE_PHYS32_ENTRY
      off += 12 + align4(namesz) + align4(descsz);
    }
  }
  return false;
}

const align4 = (n: number) => (n + 3) & ~3;

/** The version string a bzImage carries in its setup header, e.g. "6.1.0-50-amd64". */
export function bzImageRelease(path: string): string | null {
  const b = readFileSync(path);
  if (b.length < 0x210 || b.toString('latin1', 0x202, 0x206) !== 'HdrS') return null;
  const at = b.readUInt16LE(0x20e) + 0x200;
  const end = b.indexOf(0, at);
  return b.toString('latin1', at, end).split(' ')[0] || null;
}
