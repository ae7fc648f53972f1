/* userfaultfd: negotiate, register, and touch a range with a resolving handler thread. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "guard.h"

struct uffd_counts {
  size_t missing, minor, wp;           /* page faults by reason */
  size_t remove, unmap, remap, fork;   /* non-cooperative events */
  int resolve_err;                     /* errno of the first resolution that failed, 0 if none */
  int stuck;                           /* the toucher waited on a fault never reported */
  uint64_t first_addr;                 /* the address the first fault message reported, 0 if none */
};

/* A userfaultfd with UFFDIO_API done for `features`; -1 with *err set on failure. */
int uffd_open(uint64_t features, uint64_t *offered, uint64_t *ioctls, int *err);
/* UFFDIO_REGISTER of [addr, addr+len) in `mode`; 0 with the granted ioctls, or -errno. */
int uffd_register(int fd, void *addr, size_t len, uint64_t mode, uint64_t *ioctls);
/* A handler thread resolving faults (as uffd_touch describes) and counting events into *u until
 * uffd_stop: for an operation the caller makes meanwhile (events are read while it waits). */
struct uffd_handler;
struct uffd_handler *uffd_start(int fd, uint8_t *base, size_t len, size_t granule, uint32_t seed, uint64_t first,
                                struct uffd_counts *u, int *err);
void uffd_stop(struct uffd_handler *x);
/* Read every 4 KiB unit of [base, base+len) as guard_scan does (after writing each one's pattern
 * again where `write`: a write touch, for write-protect faults) while a handler thread resolves
 * each fault by `granule` (the page size): missing with UFFDIO_COPY of the pattern of `seed` at
 * the mapping offset (`first` is base's), minor with UFFDIO_CONTINUE. 0, or -errno. */
int uffd_touch(int fd, uint8_t *base, size_t len, size_t granule, uint32_t seed, uint64_t first, uint32_t file_seed,
               int write, struct scan_counts *c, struct guard_fault *f, struct uffd_counts *u);
/* Read the one byte at base+at while a handler (as uffd_touch's) serves [base, base+len). 0, or -errno. */
int uffd_poke(int fd, uint8_t *base, size_t len, size_t at, size_t granule, uint32_t seed, struct uffd_counts *u);

/* The resolving ioctls, for a case to call itself. */
enum uffd_call { UFFD_CALL_COPY, UFFD_CALL_ZEROPAGE, UFFD_CALL_CONTINUE, UFFD_CALL_MOVE, UFFD_CALL_WRITEPROTECT };
/* One ioctl over [dst, dst+len): COPY and MOVE take `src`; WRITEPROTECT's `mode` 1 protects,
 * 0 un-protects. 0 with the bytes done in *done (len for WRITEPROTECT), or -errno. */
int uffd_call(int fd, enum uffd_call kind, void *dst, const void *src, size_t len, uint64_t mode, int64_t *done);
