/* userfaultfd for the uffd family: open and negotiate the API, register a range, and touch a
 * range while a handler thread resolves each fault the way post-copy live migration does
 * (UFFDIO_COPY of the original data for a missing page, UFFDIO_CONTINUE for a minor fault),
 * counting the faults and events that arrive. A fault the handler cannot resolve never hangs
 * the toucher: the handler then unregisters the range and wakes it. */
#define _GNU_SOURCE
#include "uffd.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFDIO_CONTINUE
struct uffdio_continue { struct uffdio_range range; __u64 mode; __s64 mapped; };
#define UFFDIO_CONTINUE _IOWR(UFFDIO, 0x07, struct uffdio_continue)
#endif
#ifndef UFFD_PAGEFAULT_FLAG_MINOR
#define UFFD_PAGEFAULT_FLAG_MINOR (1 << 2)
#endif
#ifndef UFFDIO_MOVE /* v6.8 */
struct uffdio_move { __u64 dst, src, len, mode; __s64 move; };
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00) /* /dev/userfaultfd (6.1) */
#endif

/* The syscall, or /dev/userfaultfd where the syscall is refused. */
static int uffd_new(int *err) {
  int fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (fd >= 0) return fd;
  *err = errno;
  int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev < 0) return -1;
  fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) *err = errno;
  close(dev);
  return fd;
}

int uffd_open(uint64_t features, uint64_t *offered, uint64_t *ioctls, int *err) {
  int fd = uffd_new(err);
  if (fd < 0) return -1;
  struct uffdio_api api = { .api = UFFD_API, .features = features };
  if (ioctl(fd, UFFDIO_API, &api) < 0) {
    *err = errno;
    close(fd);
    return -1;
  }
  *offered = api.features;
  *ioctls = api.ioctls;
  return fd;
}

int uffd_register(int fd, void *addr, size_t len, uint64_t mode, uint64_t *ioctls) {
  struct uffdio_register r = { .range = { (uintptr_t)addr, len }, .mode = mode };
  if (ioctl(fd, UFFDIO_REGISTER, &r) < 0) return -errno;
  *ioctls = r.ioctls;
  return 0;
}

struct handler {
  int fd, stop;          /* stop: a pipe's read end, readable once the toucher is done */
  uint8_t *base;
  size_t len, granule;
  uint64_t first;        /* the mapping offset base stands at */
  uint32_t seed;
  uint8_t *src;          /* one granule of the original data, rebuilt per fault */
  struct uffd_counts *u;
};

static void unblock(struct handler *h) {
  struct uffdio_range all = { (uintptr_t)h->base, h->len };
  ioctl(h->fd, UFFDIO_UNREGISTER, &all);
  ioctl(h->fd, UFFDIO_WAKE, &all);
}

static void resolve(struct handler *h, const struct uffd_msg *m) {
  if (!h->u->first_addr) h->u->first_addr = m->arg.pagefault.address;
  uintptr_t at = (uintptr_t)m->arg.pagefault.address & ~(uintptr_t)(h->granule - 1);
  size_t off = at - (uintptr_t)h->base;
  int r;
  if (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR) {
    h->u->minor++;
    struct uffdio_continue c = { .range = { at, h->granule } };
    r = ioctl(h->fd, UFFDIO_CONTINUE, &c);
  } else if (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
    h->u->wp++;
    struct uffdio_writeprotect w = { .range = { at, h->granule } };
    r = ioctl(h->fd, UFFDIO_WRITEPROTECT, &w);
  } else {
    h->u->missing++;
    for (size_t i = 0; i < h->granule; i += 4096) memset(h->src + i, guard_pattern(h->first + off + i, h->seed), 4096);
    struct uffdio_copy c = { .dst = at, .src = (uintptr_t)h->src, .len = h->granule };
    r = ioctl(h->fd, UFFDIO_COPY, &c);
  }
  if (r == 0) return;
  if (errno == EEXIST) { /* resolved already (a racing read of the same page): wake it */
    struct uffdio_range one = { at, h->granule };
    ioctl(h->fd, UFFDIO_WAKE, &one);
    return;
  }
  if (!h->u->resolve_err) h->u->resolve_err = errno;
  unblock(h);
}

/* A poll that finds nothing for this long means the toucher is stuck on a fault the kernel
 * never reported: a bound for a broken kernel, not a race, since every reported fault is
 * answered at once. */
#define STUCK_MS 20000

static void *handle(void *arg) {
  struct handler *h = arg;
  struct pollfd p[2] = { { .fd = h->fd, .events = POLLIN }, { .fd = h->stop, .events = POLLIN } };
  for (;;) {
    int n = poll(p, 2, STUCK_MS);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) { h->u->stuck = 1; unblock(h); continue; }
    if (p[0].revents & POLLIN) {
      struct uffd_msg m;
      while (read(h->fd, &m, sizeof m) == (ssize_t)sizeof m) {
        if (m.event == UFFD_EVENT_PAGEFAULT) resolve(h, &m);
        else if (m.event == UFFD_EVENT_REMOVE) h->u->remove++;
        else if (m.event == UFFD_EVENT_UNMAP) h->u->unmap++;
        else if (m.event == UFFD_EVENT_REMAP) h->u->remap++;
        else if (m.event == UFFD_EVENT_FORK) { h->u->fork++; close((int)m.arg.fork.ufd); }
      }
    }
    if (p[1].revents & POLLIN) return NULL;
  }
}

struct uffd_handler {
  struct handler h;
  pthread_t thread;
  int done[2];
};

struct uffd_handler *uffd_start(int fd, uint8_t *base, size_t len, size_t granule, uint32_t seed, uint64_t first,
                                struct uffd_counts *u, int *err) {
  struct uffd_handler *x = calloc(1, sizeof *x);
  if (!x) { *err = ENOMEM; return NULL; }
  if (pipe2(x->done, O_CLOEXEC) < 0) { *err = errno; free(x); return NULL; }
  x->h = (struct handler){ .fd = fd, .stop = x->done[0], .base = base, .len = len, .granule = granule, .first = first, .seed = seed, .u = u };
  x->h.src = malloc(granule);
  int e = x->h.src ? pthread_create(&x->thread, NULL, handle, &x->h) : ENOMEM;
  if (e) {
    free(x->h.src);
    close(x->done[0]);
    close(x->done[1]);
    free(x);
    *err = e;
    return NULL;
  }
  return x;
}

void uffd_stop(struct uffd_handler *x) {
  if (write(x->done[1], "x", 1) < 0) {}
  pthread_join(x->thread, NULL);
  free(x->h.src);
  close(x->done[0]);
  close(x->done[1]);
  free(x);
}

int uffd_touch(int fd, uint8_t *base, size_t len, size_t granule, uint32_t seed, uint64_t first, uint32_t file_seed,
               int write, struct scan_counts *c, struct guard_fault *f, struct uffd_counts *u) {
  int err = 0;
  struct uffd_handler *x = uffd_start(fd, base, len, granule, seed, first, u, &err);
  if (!x) return -err;
  if (write) guard_fill(base, len, seed, f);
  if (!write || !f->signo) guard_scan(base, len, first, seed, file_seed, c, f);
  uffd_stop(x);
  return 0;
}

int uffd_poke(int fd, uint8_t *base, size_t len, size_t at, size_t granule, uint32_t seed, struct uffd_counts *u) {
  int err = 0;
  struct uffd_handler *x = uffd_start(fd, base, len, granule, seed, 0, u, &err);
  if (!x) return -err;
  (void)*(volatile uint8_t *)(base + at);
  uffd_stop(x);
  return 0;
}

int uffd_call(int fd, enum uffd_call kind, void *dst, const void *src, size_t len, uint64_t mode, int64_t *done) {
  uintptr_t d = (uintptr_t)dst;
  int r;
  switch (kind) {
  case UFFD_CALL_COPY: {
    struct uffdio_copy c = { .dst = d, .src = (uintptr_t)src, .len = len, .mode = mode };
    r = ioctl(fd, UFFDIO_COPY, &c);
    *done = c.copy;
    break;
  }
  case UFFD_CALL_ZEROPAGE: {
    struct uffdio_zeropage z = { .range = { d, len }, .mode = mode };
    r = ioctl(fd, UFFDIO_ZEROPAGE, &z);
    *done = z.zeropage;
    break;
  }
  case UFFD_CALL_CONTINUE: {
    struct uffdio_continue c = { .range = { d, len }, .mode = mode };
    r = ioctl(fd, UFFDIO_CONTINUE, &c);
    *done = c.mapped;
    break;
  }
  case UFFD_CALL_MOVE: {
    struct uffdio_move m = { .dst = d, .src = (uintptr_t)src, .len = len, .mode = mode };
    r = ioctl(fd, UFFDIO_MOVE, &m);
    *done = m.move;
    break;
  }
  case UFFD_CALL_WRITEPROTECT: {
    struct uffdio_writeprotect w = { .range = { d, len }, .mode = mode ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };
    r = ioctl(fd, UFFDIO_WRITEPROTECT, &w);
    *done = r == 0 ? (int64_t)len : 0;
    break;
  }
  default:
    return -EINVAL;
  }
  return r < 0 ? -errno : 0;
}
