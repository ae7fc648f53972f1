/* sigsetjmp/siglongjmp guard, the way tools/testing/selftests/mm does it.
 * Our handlers are installed only for the duration of one guarded call and the
 * previous ones (V8 installs its own SIGSEGV handler) are put back afterwards. */
#define _GNU_SOURCE
#include "guard.h"
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#define UNIT 4096u

static sigjmp_buf jump;
static volatile int fault_signo, fault_code;
static volatile uintptr_t fault_addr;

static void on_fault(int signo, siginfo_t *si, void *uc) {
  (void)uc;
  fault_signo = signo;
  fault_code = si->si_code;
  fault_addr = (uintptr_t)si->si_addr;
  siglongjmp(jump, 1);
}

struct saved { struct sigaction bus, segv; };

static void arm(struct saved *s) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &s->bus);
  sigaction(SIGSEGV, &sa, &s->segv);
}

static void disarm(const struct saved *s) {
  sigaction(SIGBUS, &s->bus, NULL);
  sigaction(SIGSEGV, &s->segv, NULL);
}

uint8_t guard_pattern(uint64_t off, uint32_t seed) {
  /* One byte value per 4 KiB unit, never zero and different from its neighbours, so zeros
   * and data from another unit are told apart. Constant within a unit so that fill and scan
   * move 64-bit words: under TCG every guest instruction counts. */
  return (uint8_t)(((off / UNIT) * 31u + seed) % 251u + 1u);
}

static uint64_t unit_word(size_t unit, uint32_t seed) {
  return 0x0101010101010101ull * guard_pattern((uint64_t)unit * UNIT, seed);
}

static void record(struct guard_fault *f, const void *base) {
  if (f->signo) return; /* keep the first fault */
  f->signo = fault_signo;
  f->si_code = fault_code;
  f->offset = fault_addr - (uintptr_t)base;
}

void guard_fill(uint8_t *base, size_t len, uint32_t seed, struct guard_fault *f) {
  struct saved s;
  memset(f, 0, sizeof *f);
  arm(&s);
  if (sigsetjmp(jump, 1) == 0) {
    for (size_t unit = 0; unit * UNIT < len; unit++) {
      volatile uint64_t *w = (volatile uint64_t *)(base + unit * UNIT);
      uint64_t v = unit_word(unit, seed);
      size_t n = (len - unit * UNIT < UNIT ? len - unit * UNIT : UNIT) / 8;
      for (size_t i = 0; i < n; i++) w[i] = v;
    }
  } else {
    record(f, base);
  }
  disarm(&s);
}

uint64_t guard_touch(uint8_t *base, size_t len, int mode, struct guard_fault *f) {
  struct saved s;
  struct timespec t0, t1;
  memset(f, 0, sizeof *f);
  arm(&s);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (sigsetjmp(jump, 1) == 0) {
    volatile uint8_t *p = base;
    for (size_t off = 0; off < len; off += UNIT) {
      if (mode == 0) (void)p[off];
      else if (mode == 1) p[off] = 1;
      else p[off] = (uint8_t)(p[off] + 1);
    }
  } else {
    record(f, base);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  disarm(&s);
  return (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
}

/* 1: every word is `want`; 3: every word is `file` (when it is not 0); 0: all zero; 2: other. */
static int classify(const volatile uint64_t *w, uint64_t want, uint64_t file) {
  int pattern = 1, zero = 1, in_file = file != 0;
  for (size_t i = 0; i < UNIT / 8; i++) {
    uint64_t v = w[i];
    if (v != 0) zero = 0;
    if (v != want) pattern = 0;
    if (v != file) in_file = 0;
  }
  return pattern ? 1 : in_file ? 3 : zero ? 0 : 2;
}

void guard_scan(const uint8_t *base, size_t len, uint64_t first, uint32_t seed, uint32_t file_seed,
                struct scan_counts *c, struct guard_fault *f) {
  struct saved s;
  volatile size_t unit = 0;
  memset(c, 0, sizeof *c);
  memset(f, 0, sizeof *f);
  arm(&s);
  while (unit * UNIT < len) {
    if (sigsetjmp(jump, 1) != 0) {
      record(f, base);
      c->faulted++;
      unit++;
      continue;
    }
    uint64_t at = first / UNIT + unit;
    int k = classify((const volatile uint64_t *)(base + unit * UNIT), unit_word(at, seed), file_seed ? unit_word(at, file_seed) : 0);
    if (k == 1) c->pattern++; else if (k == 3) c->file++; else if (k == 0) c->zero++; else c->other++;
    unit++;
  }
  disarm(&s);
}
