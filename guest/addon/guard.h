/* Guarded memory access: a fault becomes a value instead of killing node. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct guard_fault {
  int signo;        /* 0 when nothing faulted */
  int si_code;
  size_t offset;    /* of the first fault, from the range start */
};

struct scan_counts {
  size_t pattern, file, zero, other, faulted; /* in 4 KiB units */
};

uint8_t guard_pattern(uint64_t off, uint32_t seed);
/* Write the pattern over [base, base+len) (len a multiple of 8); stops at the first fault. */
void guard_fill(uint8_t *base, size_t len, uint32_t seed, struct guard_fault *f);
/* Touch one byte of each 4 KiB page (seed 004's experiment): mode 0 reads it, 1 writes it, 2
 * reads then writes it; stops at the first fault. Returns the loop's time in nanoseconds. */
uint64_t guard_touch(uint8_t *base, size_t len, int mode, struct guard_fault *f);
/* Read every 4 KiB unit and classify it: the pattern of `seed` (what the mapping wrote), that of
 * `file_seed` (what the backing file holds; 0: none), zeros or other; a faulting unit is counted
 * and skipped. `first` is the mapping offset `base` stands at, so a part of a mapping is
 * compared with the patterns written there. */
void guard_scan(const uint8_t *base, size_t len, uint64_t first, uint32_t seed, uint32_t file_seed,
                struct scan_counts *c, struct guard_fault *f);
