/* mmatrix guest addon: the memory-management syscalls the suites need, with
 * errno returned as its name, and guarded access that reports faults as values. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <node_api.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guard.h"
#include "uffd.h"

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, #call " failed"); return NULL; } } while (0)
#define ARGS(n) size_t argc = n; napi_value argv[n]; CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL)); \
  if (argc < n) { napi_throw_type_error(env, NULL, "expected " #n " arguments"); return NULL; }

static napi_value obj(napi_env env) { napi_value o; napi_create_object(env, &o); return o; }
static void set_num(napi_env env, napi_value o, const char *k, double v) {
  napi_value x; napi_create_double(env, v, &x); napi_set_named_property(env, o, k, x);
}
static void set_str(napi_env env, napi_value o, const char *k, const char *v) {
  napi_value x; napi_create_string_utf8(env, v, NAPI_AUTO_LENGTH, &x); napi_set_named_property(env, o, k, x);
}
static void set_big(napi_env env, napi_value o, const char *k, uint64_t v) {
  napi_value x; napi_create_bigint_uint64(env, v, &x); napi_set_named_property(env, o, k, x);
}
static int64_t num(napi_env env, napi_value v) {
  napi_valuetype t; napi_typeof(env, v, &t);
  if (t == napi_bigint) { int64_t r; bool lossless; napi_get_value_bigint_int64(env, v, &r, &lossless); return r; }
  double d = 0; napi_get_value_double(env, v, &d); return (int64_t)d;
}
static uint8_t *ptr(napi_env env, napi_value v) { return (uint8_t *)(uintptr_t)num(env, v); }

/* {ret} on success, {errno: "EINVAL"} on failure. */
static napi_value result(napi_env env, long ret, int err) {
  napi_value o = obj(env);
  if (ret < 0) {
    const char *name = strerrorname_np(err);
    set_str(env, o, "errno", name ? name : "E?");
  } else {
    set_num(env, o, "ret", (double)ret);
  }
  return o;
}

/* {addr} for a mapping, {errno} for MAP_FAILED. */
static napi_value mapping(napi_env env, void *p, int err) {
  if (p == MAP_FAILED) return result(env, -1, err);
  napi_value o = obj(env);
  set_big(env, o, "addr", (uint64_t)(uintptr_t)p);
  return o;
}

static napi_value js_mmap(napi_env env, napi_callback_info info) {
  ARGS(6);
  void *p = mmap((void *)ptr(env, argv[0]), (size_t)num(env, argv[1]), (int)num(env, argv[2]),
                 (int)num(env, argv[3]), (int)num(env, argv[4]), (off_t)num(env, argv[5]));
  return mapping(env, p, errno);
}

static napi_value js_munmap(napi_env env, napi_callback_info info) {
  ARGS(2);
  int r = munmap(ptr(env, argv[0]), (size_t)num(env, argv[1]));
  return result(env, r, errno);
}

static napi_value js_madvise(napi_env env, napi_callback_info info) {
  ARGS(3);
  /* Raw syscall: glibc must not filter advice values it does not know (MADV_SPLIT, …). */
  long r = syscall(SYS_madvise, ptr(env, argv[0]), (size_t)num(env, argv[1]), (int)num(env, argv[2]));
  return result(env, r, errno);
}

static napi_value js_mlock(napi_env env, napi_callback_info info) {
  ARGS(2);
  int r = mlock(ptr(env, argv[0]), (size_t)num(env, argv[1]));
  return result(env, r, errno);
}

static napi_value js_mprotect(napi_env env, napi_callback_info info) {
  ARGS(3);
  int r = mprotect(ptr(env, argv[0]), (size_t)num(env, argv[1]), (int)num(env, argv[2]));
  return result(env, r, errno);
}

/* mseal(2) by number: libc has no wrapper for it yet; a kernel before 6.10 says ENOSYS. */
#ifndef __NR_mseal
#define __NR_mseal 462
#endif
static napi_value js_mseal(napi_env env, napi_callback_info info) {
  ARGS(2);
  long r = syscall(__NR_mseal, ptr(env, argv[0]), (size_t)num(env, argv[1]), 0UL);
  return result(env, r, errno);
}

/* processMadvise(addr, len, advice): process_madvise(2) on this very process, through a pidfd
 * of its own (pidfd_open 5.3, process_madvise 5.10); ret is the number of bytes advised. */
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_process_madvise
#define __NR_process_madvise 440
#endif
static napi_value js_process_madvise(napi_env env, napi_callback_info info) {
  ARGS(3);
  struct iovec iov = { ptr(env, argv[0]), (size_t)num(env, argv[1]) };
  int pidfd = (int)syscall(__NR_pidfd_open, getpid(), 0U);
  if (pidfd < 0) return result(env, -1, errno);
  long r = syscall(__NR_process_madvise, pidfd, &iov, 1UL, (int)num(env, argv[2]), 0U);
  int err = errno;
  close(pidfd);
  return result(env, r, err);
}

/* addSeals(fd, seals): fcntl(F_ADD_SEALS) */
static napi_value js_add_seals(napi_env env, napi_callback_info info) {
  ARGS(2);
  int r = fcntl((int)num(env, argv[0]), F_ADD_SEALS, (int)num(env, argv[1]));
  return result(env, r, errno);
}

static napi_value js_mremap(napi_env env, napi_callback_info info) {
  ARGS(5);
  void *p = (void *)syscall(SYS_mremap, ptr(env, argv[0]), (size_t)num(env, argv[1]),
                            (size_t)num(env, argv[2]), (int)num(env, argv[3]), ptr(env, argv[4]));
  return mapping(env, p, errno);
}

static napi_value js_fallocate(napi_env env, napi_callback_info info) {
  ARGS(4);
  int r = fallocate((int)num(env, argv[0]), (int)num(env, argv[1]), (off_t)num(env, argv[2]), (off_t)num(env, argv[3]));
  return result(env, r, errno);
}

static napi_value js_memfd_create(napi_env env, napi_callback_info info) {
  ARGS(2);
  char name[64] = {0};
  size_t n;
  napi_get_value_string_utf8(env, argv[0], name, sizeof name, &n);
  long r = syscall(SYS_memfd_create, name, (unsigned)num(env, argv[1]));
  return result(env, r, errno);
}

static napi_value js_ftruncate(napi_env env, napi_callback_info info) {
  ARGS(2);
  int r = ftruncate((int)num(env, argv[0]), (off_t)num(env, argv[1]));
  return result(env, r, errno);
}

/* Throws an Error whose code and message are the errno's name. */
static napi_value throw_errno(napi_env env, int err) {
  const char *name = strerrorname_np(err);
  napi_throw_error(env, name, name ? name : "E?");
  return NULL;
}

/* The text of a /proc or sysfs file open at `fd`, read again from offset 0 with one pread (such
 * files regenerate on a read from 0): what a case reads around every operation, so no fs call,
 * Buffer or decoding on node's side. A failed read throws with its errno's name. */
static char text_buf[1 << 16];
static napi_value js_pread_text(napi_env env, napi_callback_info info) {
  ARGS(1);
  ssize_t n = pread((int)num(env, argv[0]), text_buf, sizeof text_buf, 0);
  if (n < 0) return throw_errno(env, errno);
  napi_value s;
  CHECK(napi_create_string_latin1(env, text_buf, (size_t)n, &s));
  return s;
}

/* The whole text of a /proc file open at `fd` however long it is (/proc/self/smaps runs past
 * 64 KiB), read from its start: lseek to 0, then read(2) to EOF. seq_file goes on where the
 * last read stopped, where a pread at a later offset would walk the file again from its start. */
static napi_value js_read_all(napi_env env, napi_callback_info info) {
  ARGS(1);
  int fd = (int)num(env, argv[0]);
  size_t cap = 1 << 20, len = 0;
  if (lseek(fd, 0, SEEK_SET) < 0) return throw_errno(env, errno);
  char *b = malloc(cap);
  if (!b) return throw_errno(env, ENOMEM);
  for (;;) {
    if (len == cap) {
      char *more = realloc(b, cap *= 2);
      if (!more) { free(b); return throw_errno(env, ENOMEM); }
      b = more;
    }
    ssize_t n = read(fd, b + len, cap - len);
    if (n < 0) { int err = errno; free(b); return throw_errno(env, err); }
    if (n == 0) break;
    len += (size_t)n;
  }
  napi_value s;
  napi_status st = napi_create_string_latin1(env, b, len, &s);
  free(b);
  if (st != napi_ok) { napi_throw_error(env, NULL, "napi_create_string_latin1 failed"); return NULL; }
  return s;
}

/* Every record of a non-blocking /dev/kmsg fd until EAGAIN, each as its text (one read(2) returns
 * one record); EPIPE (records overwritten before they were read) goes on with the next one. In
 * node each drain ended in a thrown EAGAIN error. */
static napi_value js_read_records(napi_env env, napi_callback_info info) {
  ARGS(1);
  int fd = (int)num(env, argv[0]);
  napi_value out;
  CHECK(napi_create_array(env, &out));
  uint32_t i = 0;
  for (;;) {
    ssize_t n = read(fd, text_buf, sizeof text_buf);
    if (n < 0 && errno == EPIPE) continue;
    if (n <= 0) break;
    napi_value s;
    CHECK(napi_create_string_utf8(env, text_buf, (size_t)n, &s));
    CHECK(napi_set_element(env, out, i++, s));
  }
  return out;
}

/* Resident 4 KiB units of the range, per mincore(2). */
static napi_value js_mincore(napi_env env, napi_callback_info info) {
  ARGS(2);
  size_t len = (size_t)num(env, argv[1]), pages = (len + 4095) / 4096, resident = 0;
  unsigned char *vec = calloc(pages, 1);
  if (!vec) return result(env, -1, ENOMEM);
  int r = mincore(ptr(env, argv[0]), len, vec);
  int err = errno;
  for (size_t i = 0; r == 0 && i < pages; i++) resident += vec[i] & 1;
  free(vec);
  if (r < 0) return result(env, -1, err);
  napi_value o = obj(env);
  set_num(env, o, "resident", (double)resident);
  set_num(env, o, "pages", (double)pages);
  return o;
}

/* Present and swapped 4 KiB units of the range, from /proc/self/pagemap
 * (Documentation/admin-guide/mm/pagemap.rst: bit 63 present, bit 62 swapped, bit 61 a
 * file page or shared anonymous, bit 56 mapped exclusively), and the anonymous pages this
 * range holds alone (present, bit 61 clear, bit 56 set; the shared zero page a read fault
 * maps has neither bit): its own share of RssAnon, which node's heap does not move. */
static napi_value js_pagemap(napi_env env, napi_callback_info info) {
  ARGS(2);
  uintptr_t addr = (uintptr_t)ptr(env, argv[0]);
  size_t pages = ((size_t)num(env, argv[1]) + 4095) / 4096, present = 0, swapped = 0, anon = 0;
  /* Opened once: node calls this from its one thread, and a forked child never does (a child
   * reading the parent's open file would see the parent's pages). */
  static int fd = -1;
  if (fd < 0 && (fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0) return result(env, -1, errno);
  uint64_t *e = calloc(pages, sizeof *e);
  ssize_t got = e ? pread(fd, e, pages * sizeof *e, (off_t)(addr / 4096 * sizeof *e)) : -1;
  int err = errno;
  if (got != (ssize_t)(pages * sizeof *e)) { free(e); return result(env, -1, got < 0 ? err : EIO); }
  for (size_t i = 0; i < pages; i++) {
    present += (e[i] >> 63) & 1;
    swapped += (e[i] >> 62) & 1;
    anon += ((e[i] >> 63) & 1) && !((e[i] >> 61) & 1) && ((e[i] >> 56) & 1);
  }
  free(e);
  napi_value o = obj(env);
  set_num(env, o, "present", (double)present);
  set_num(env, o, "swapped", (double)swapped);
  set_num(env, o, "anon", (double)anon);
  set_num(env, o, "pages", (double)pages);
  return o;
}

static void set_counts(napi_env env, napi_value o, const struct scan_counts *c) {
  set_num(env, o, "pattern", (double)c->pattern);
  set_num(env, o, "file", (double)c->file);
  set_num(env, o, "zero", (double)c->zero);
  set_num(env, o, "other", (double)c->other);
  set_num(env, o, "faulted", (double)c->faulted);
}

static const char *signame(int s) { return s == SIGBUS ? "SIGBUS" : s == SIGSEGV ? "SIGSEGV" : "SIG?"; }

static void set_fault(napi_env env, napi_value o, const struct guard_fault *f) {
  if (!f->signo) return;
  set_str(env, o, "signal", signame(f->signo));
  set_num(env, o, "si_code", f->si_code);
  set_num(env, o, "offset", (double)f->offset);
}

static napi_value js_fill(napi_env env, napi_callback_info info) {
  ARGS(3);
  struct guard_fault f;
  guard_fill(ptr(env, argv[0]), (size_t)num(env, argv[1]), (uint32_t)num(env, argv[2]), &f);
  napi_value o = obj(env);
  napi_value ok; napi_get_boolean(env, f.signo == 0, &ok);
  napi_set_named_property(env, o, "ok", ok);
  set_fault(env, o, &f);
  return o;
}

/* touch(addr, len, mode): one byte of each 4 KiB page read (0), written (1) or both (2), timed. */
static napi_value js_touch(napi_env env, napi_callback_info info) {
  ARGS(3);
  struct guard_fault f;
  uint64_t ns = guard_touch(ptr(env, argv[0]), (size_t)num(env, argv[1]), (int)num(env, argv[2]), &f);
  napi_value o = obj(env);
  napi_value v; napi_create_double(env, (double)ns, &v);
  napi_set_named_property(env, o, "ns", v);
  napi_value ok; napi_get_boolean(env, f.signo == 0, &ok);
  napi_set_named_property(env, o, "ok", ok);
  set_fault(env, o, &f);
  return o;
}

/* scan(addr, len, seed[, first[, fileSeed]]): `first` is the mapping offset addr stands at
 * (default 0); `fileSeed` the pattern the backing file holds (0 or absent: none). */
static napi_value js_scan(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) { napi_throw_type_error(env, NULL, "expected 3 to 5 arguments"); return NULL; }
  uint64_t first = argc > 3 ? (uint64_t)num(env, argv[3]) : 0;
  uint32_t file_seed = argc > 4 ? (uint32_t)num(env, argv[4]) : 0;
  struct guard_fault f;
  struct scan_counts c;
  guard_scan(ptr(env, argv[0]), (size_t)num(env, argv[1]), first, (uint32_t)num(env, argv[2]), file_seed, &c, &f);
  napi_value o = obj(env);
  set_counts(env, o, &c);
  set_fault(env, o, &f);
  return o;
}

/* Values the kernel ABI fixes; defined here when the host's headers predate them. */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 4
#endif

/* forkFill(addr, len, seed): fork a child that writes the pattern over the range (a private
 * mapping's COW faults happen in the child) and then waits. Returns {pid, hold, ok, signal?}
 * once the child has written; the child lives until reap(pid, hold), so the caller can read
 * the counters while the child still holds its pages. */
static napi_value js_fork_fill(napi_env env, napi_callback_info info) {
  ARGS(3);
  uint8_t *base = ptr(env, argv[0]);
  size_t len = (size_t)num(env, argv[1]);
  uint32_t seed = (uint32_t)num(env, argv[2]);
  int up[2], down[2];
  if (pipe2(up, O_CLOEXEC) < 0) return result(env, -1, errno);
  if (pipe2(down, O_CLOEXEC) < 0) { int e = errno; close(up[0]); close(up[1]); return result(env, -1, e); }
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(up[0]); close(up[1]); close(down[0]); close(down[1]);
    return result(env, -1, e);
  }
  if (pid == 0) { /* child: only async-signal-safe calls from here on */
    struct guard_fault f;
    char c;
    close(up[0]);
    close(down[1]);
    guard_fill(base, len, seed, &f);
    if (write(up[1], &f, sizeof f) != (ssize_t)sizeof f) _exit(3);
    while (read(down[0], &c, 1) < 0 && errno == EINTR) {}
    _exit(0);
  }
  close(up[1]);
  close(down[0]);
  struct guard_fault f = {0};
  ssize_t n;
  while ((n = read(up[0], &f, sizeof f)) < 0 && errno == EINTR) {}
  close(up[0]);
  napi_value o = obj(env);
  set_num(env, o, "pid", pid);
  set_num(env, o, "hold", down[1]);
  napi_value ok; napi_get_boolean(env, n == (ssize_t)sizeof f && f.signo == 0, &ok);
  napi_set_named_property(env, o, "ok", ok);
  if (n != (ssize_t)sizeof f) set_str(env, o, "signal", "died"); /* the child died before reporting */
  else set_fault(env, o, &f);
  return o;
}

/* What a probe child does before it reads the range back (see js_child_probe). */
enum probe_step { STEP_NONE, STEP_SEAL, STEP_SEAL_MUNMAP, STEP_SEAL_MREMAP, STEP_SEAL_MPROTECT,
                  STEP_SEAL_DONTNEED, STEP_SEAL_MAP_FIXED, STEP_COUNT };

struct probe_report {
  int seal_err;   /* errno of mseal, 0 when it succeeded or was not asked for */
  int op_err;     /* errno of the step's operation, 0 on success */
  struct scan_counts c;
  struct guard_fault f;
};

static void probe_step(uint8_t *base, size_t len, int step, uint8_t *dest, struct probe_report *p) {
  if (step == STEP_NONE) return;
  if (syscall(__NR_mseal, base, len, 0UL) < 0) { p->seal_err = errno; return; }
  long r = 0;
  switch (step) {
    case STEP_SEAL_MUNMAP: r = munmap(base, len); break;
    case STEP_SEAL_MREMAP: r = mremap(base, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dest) == MAP_FAILED ? -1 : 0; break;
    case STEP_SEAL_MPROTECT: r = mprotect(base, len, PROT_READ); break;
    case STEP_SEAL_DONTNEED: r = madvise(base, len, MADV_DONTNEED); break;
    case STEP_SEAL_MAP_FIXED:
      r = mmap(base, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ? -1 : 0;
      break;
  }
  if (r < 0) p->op_err = errno;
}

/* childProbe(addr, len, step, seed, first, fileSeed, dest): fork a child that does `step` to the
 * range (seal it, then try an operation on the sealed range) and reads it back, as a forked child
 * sees it. A sealed range can never be unmapped: only a child that exits frees it.
 * {sealErrno?, errno?, pattern, file, zero, other, faulted, signal?} */
static napi_value js_child_probe(napi_env env, napi_callback_info info) {
  ARGS(7);
  uint8_t *base = ptr(env, argv[0]);
  size_t len = (size_t)num(env, argv[1]);
  int step = (int)num(env, argv[2]);
  uint32_t seed = (uint32_t)num(env, argv[3]);
  uint64_t first = (uint64_t)num(env, argv[4]);
  uint32_t file_seed = (uint32_t)num(env, argv[5]);
  uint8_t *dest = ptr(env, argv[6]);
  if (step < 0 || step >= STEP_COUNT) { napi_throw_range_error(env, NULL, "no such probe step"); return NULL; }
  int up[2];
  if (pipe2(up, O_CLOEXEC) < 0) return result(env, -1, errno);
  pid_t pid = fork();
  if (pid < 0) { int e = errno; close(up[0]); close(up[1]); return result(env, -1, e); }
  if (pid == 0) { /* child: only async-signal-safe calls, then the guarded scan */
    struct probe_report p = {0};
    close(up[0]);
    probe_step(base, len, step, dest, &p);
    guard_scan(base, len, first, seed, file_seed, &p.c, &p.f);
    _exit(write(up[1], &p, sizeof p) == (ssize_t)sizeof p ? 0 : 3);
  }
  close(up[1]);
  struct probe_report p = {0};
  ssize_t n;
  while ((n = read(up[0], &p, sizeof p)) < 0 && errno == EINTR) {}
  close(up[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (n != (ssize_t)sizeof p) { napi_throw_error(env, NULL, "the probe child died before reporting"); return NULL; }
  napi_value o = obj(env);
  if (p.seal_err) set_str(env, o, "sealErrno", strerrorname_np(p.seal_err));
  if (p.op_err) set_str(env, o, "errno", strerrorname_np(p.op_err));
  set_counts(env, o, &p.c);
  set_fault(env, o, &p.f);
  return o;
}

/* uffdOpen(features): a userfaultfd after UFFDIO_API. {fd, features, ioctls} or {errno} */
static napi_value js_uffd_open(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint64_t offered = 0, ioctls = 0;
  int err = 0;
  int fd = uffd_open((uint64_t)num(env, argv[0]), &offered, &ioctls, &err);
  if (fd < 0) return result(env, -1, err);
  napi_value o = obj(env);
  set_num(env, o, "fd", fd);
  set_num(env, o, "features", (double)offered);
  set_big(env, o, "ioctls", ioctls);
  return o;
}

/* uffdRegister(fd, addr, len, mode): {ioctls} or {errno} */
static napi_value js_uffd_register(napi_env env, napi_callback_info info) {
  ARGS(4);
  uint64_t ioctls = 0;
  int r = uffd_register((int)num(env, argv[0]), ptr(env, argv[1]), (size_t)num(env, argv[2]), (uint64_t)num(env, argv[3]), &ioctls);
  if (r < 0) return result(env, -1, -r);
  napi_value o = obj(env);
  set_big(env, o, "ioctls", ioctls);
  return o;
}

static void set_uffd_counts(napi_env env, napi_value o, const struct uffd_counts *u) {
  set_num(env, o, "missing", (double)u->missing);
  set_num(env, o, "minor", (double)u->minor);
  set_num(env, o, "wp", (double)u->wp);
  set_num(env, o, "remove", (double)u->remove);
  set_num(env, o, "unmap", (double)u->unmap);
  set_num(env, o, "remap", (double)u->remap);
  set_num(env, o, "fork", (double)u->fork);
  if (u->resolve_err) set_str(env, o, "resolveErrno", strerrorname_np(u->resolve_err));
  napi_value stuck; napi_get_boolean(env, u->stuck, &stuck);
  napi_set_named_property(env, o, "stuck", stuck);
  set_num(env, o, "firstAddr", (double)u->first_addr);
}

/* A running handler for JS: the counts live beside it until uffdStop. */
struct js_handler { struct uffd_counts u; struct uffd_handler *x; };

/* uffdStart(fd, addr, len, granule, seed): a handler thread resolving faults and counting events
 * while JS makes one operation; {handle} (pass it to uffdStop) or {errno} */
static napi_value js_uffd_start(napi_env env, napi_callback_info info) {
  ARGS(5);
  struct js_handler *j = calloc(1, sizeof *j);
  int err = ENOMEM;
  if (j) j->x = uffd_start((int)num(env, argv[0]), ptr(env, argv[1]), (size_t)num(env, argv[2]), (size_t)num(env, argv[3]),
                           (uint32_t)num(env, argv[4]), 0, &j->u, &err);
  if (!j || !j->x) { free(j); return result(env, -1, err); }
  napi_value o = obj(env);
  set_big(env, o, "handle", (uint64_t)(uintptr_t)j);
  return o;
}

/* uffdStop(handle): stop the handler; the faults and events it counted. */
static napi_value js_uffd_stop(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint64_t h; bool lossless;
  if (napi_get_value_bigint_uint64(env, argv[0], &h, &lossless) != napi_ok || !h) { napi_throw_type_error(env, NULL, "not a handler"); return NULL; }
  struct js_handler *j = (struct js_handler *)(uintptr_t)h;
  uffd_stop(j->x);
  napi_value o = obj(env);
  set_uffd_counts(env, o, &j->u);
  free(j);
  return o;
}

/* uffdTouch(fd, addr, len, granule, seed, first, fileSeed): read the range while a handler
 * thread resolves its faults. The scan's counts, plus the faults and events by kind. */
static napi_value js_uffd_touch(napi_env env, napi_callback_info info) {
  ARGS(8);
  struct scan_counts c = {0};
  struct guard_fault f = {0};
  struct uffd_counts u = {0};
  int r = uffd_touch((int)num(env, argv[0]), ptr(env, argv[1]), (size_t)num(env, argv[2]), (size_t)num(env, argv[3]),
                     (uint32_t)num(env, argv[4]), (uint64_t)num(env, argv[5]), (uint32_t)num(env, argv[6]), (int)num(env, argv[7]),
                     &c, &f, &u);
  if (r < 0) return result(env, -1, -r);
  napi_value o = obj(env);
  set_counts(env, o, &c);
  set_fault(env, o, &f);
  set_uffd_counts(env, o, &u);
  return o;
}

/* uffdPoke(fd, addr, len, at, granule, seed): read the byte at addr+at while a handler serves
 * [addr, addr+len); the faults it met and the address the first one reported. */
static napi_value js_uffd_poke(napi_env env, napi_callback_info info) {
  ARGS(6);
  struct uffd_counts u = {0};
  int r = uffd_poke((int)num(env, argv[0]), ptr(env, argv[1]), (size_t)num(env, argv[2]), (size_t)num(env, argv[3]),
                    (size_t)num(env, argv[4]), (uint32_t)num(env, argv[5]), &u);
  if (r < 0) return result(env, -1, -r);
  napi_value o = obj(env);
  set_uffd_counts(env, o, &u);
  return o;
}

/* uffdCall(fd, kind, dst, src, len, mode): one resolving ioctl (kind: enum uffd_call).
 * {ret: bytes done} or {errno} */
static napi_value js_uffd_call(napi_env env, napi_callback_info info) {
  ARGS(6);
  int64_t done = 0;
  int r = uffd_call((int)num(env, argv[0]), (enum uffd_call)num(env, argv[1]), ptr(env, argv[2]), ptr(env, argv[3]),
                    (size_t)num(env, argv[4]), (uint64_t)num(env, argv[5]), &done);
  if (r < 0) return result(env, -1, -r);
  return result(env, (double)done, 0);
}

/* reap(pid, hold): let a forkFill child exit and wait for it. {ret: wait status} */
static napi_value js_reap(napi_env env, napi_callback_info info) {
  ARGS(2);
  pid_t pid = (pid_t)num(env, argv[0]);
  close((int)num(env, argv[1]));
  int st = 0;
  pid_t r;
  while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
  return result(env, r < 0 ? -1 : st, errno);
}

static napi_value constants(napi_env env) {
  napi_value o = obj(env);
#define C(name) set_num(env, o, #name, (double)(name))
  C(PROT_NONE); C(PROT_READ); C(PROT_WRITE);
  C(MAP_SHARED); C(MAP_PRIVATE); C(MAP_ANONYMOUS); C(MAP_FIXED); C(MAP_POPULATE);
  C(MAP_NORESERVE); C(MAP_HUGETLB); C(MAP_HUGE_SHIFT);
  C(MADV_NORMAL); C(MADV_WILLNEED); C(MADV_DONTNEED); C(MADV_FREE); C(MADV_REMOVE);
  C(MADV_HUGEPAGE); C(MADV_NOHUGEPAGE); C(MADV_POPULATE_READ); C(MADV_POPULATE_WRITE);
  C(MADV_DONTNEED_LOCKED); C(MADV_COLLAPSE); C(MADV_GUARD_INSTALL); C(MADV_GUARD_REMOVE);
  C(MREMAP_MAYMOVE); C(MREMAP_FIXED); C(MREMAP_DONTUNMAP);
  C(MFD_CLOEXEC); C(MFD_HUGETLB); C(MFD_ALLOW_SEALING);
  C(F_SEAL_SEAL); C(F_SEAL_SHRINK); C(F_SEAL_GROW); C(F_SEAL_WRITE); C(F_SEAL_FUTURE_WRITE);
  C(MAP_FIXED_NOREPLACE);
  C(MADV_WIPEONFORK); C(MADV_KEEPONFORK); C(MADV_DONTFORK); C(MADV_DOFORK); C(MADV_COLD); C(MADV_PAGEOUT);
  C(STEP_NONE); C(STEP_SEAL); C(STEP_SEAL_MUNMAP); C(STEP_SEAL_MREMAP); C(STEP_SEAL_MPROTECT);
  C(STEP_SEAL_DONTNEED); C(STEP_SEAL_MAP_FIXED);
  C(FALLOC_FL_KEEP_SIZE); C(FALLOC_FL_PUNCH_HOLE);
  C(UFFD_CALL_COPY); C(UFFD_CALL_ZEROPAGE); C(UFFD_CALL_CONTINUE); C(UFFD_CALL_MOVE); C(UFFD_CALL_WRITEPROTECT);
#undef C
  return o;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    {"mmap", 0, js_mmap, 0, 0, 0, napi_enumerable, 0},
    {"munmap", 0, js_munmap, 0, 0, 0, napi_enumerable, 0},
    {"madvise", 0, js_madvise, 0, 0, 0, napi_enumerable, 0},
    {"mlock", 0, js_mlock, 0, 0, 0, napi_enumerable, 0},
    {"mprotect", 0, js_mprotect, 0, 0, 0, napi_enumerable, 0},
    {"mseal", 0, js_mseal, 0, 0, 0, napi_enumerable, 0},
    {"addSeals", 0, js_add_seals, 0, 0, 0, napi_enumerable, 0},
    {"processMadvise", 0, js_process_madvise, 0, 0, 0, napi_enumerable, 0},
    {"mremap", 0, js_mremap, 0, 0, 0, napi_enumerable, 0},
    {"fallocate", 0, js_fallocate, 0, 0, 0, napi_enumerable, 0},
    {"memfdCreate", 0, js_memfd_create, 0, 0, 0, napi_enumerable, 0},
    {"ftruncate", 0, js_ftruncate, 0, 0, 0, napi_enumerable, 0},
    {"mincore", 0, js_mincore, 0, 0, 0, napi_enumerable, 0},
    {"preadText", 0, js_pread_text, 0, 0, 0, napi_enumerable, 0},
    {"readRecords", 0, js_read_records, 0, 0, 0, napi_enumerable, 0},
    {"readAll", 0, js_read_all, 0, 0, 0, napi_enumerable, 0},
    {"pagemap", 0, js_pagemap, 0, 0, 0, napi_enumerable, 0},
    {"fill", 0, js_fill, 0, 0, 0, napi_enumerable, 0},
    {"scan", 0, js_scan, 0, 0, 0, napi_enumerable, 0},
    {"touch", 0, js_touch, 0, 0, 0, napi_enumerable, 0},
    {"forkFill", 0, js_fork_fill, 0, 0, 0, napi_enumerable, 0},
    {"reap", 0, js_reap, 0, 0, 0, napi_enumerable, 0},
    {"childProbe", 0, js_child_probe, 0, 0, 0, napi_enumerable, 0},
    {"uffdOpen", 0, js_uffd_open, 0, 0, 0, napi_enumerable, 0},
    {"uffdRegister", 0, js_uffd_register, 0, 0, 0, napi_enumerable, 0},
    {"uffdTouch", 0, js_uffd_touch, 0, 0, 0, napi_enumerable, 0},
    {"uffdStart", 0, js_uffd_start, 0, 0, 0, napi_enumerable, 0},
    {"uffdStop", 0, js_uffd_stop, 0, 0, 0, napi_enumerable, 0},
    {"uffdPoke", 0, js_uffd_poke, 0, 0, 0, napi_enumerable, 0},
    {"uffdCall", 0, js_uffd_call, 0, 0, 0, napi_enumerable, 0},
    {"constants", 0, 0, 0, 0, constants(env), napi_enumerable, 0},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
