/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event loop: one level-triggered epoll instance. A watched fd is a struct vw_io whose
 * callback runs when the fd is ready. Timers are not part of the loop: each module reports
 * its next deadline and the caller passes the minimum as the wait timeout.
 */
#ifndef VW_LOOP_H
#define VW_LOOP_H

#include <stdint.h>

struct vw_loop;
struct vw_io;

typedef void (*vw_io_fn)(struct vw_io *io, uint32_t events);

struct vw_io {
	int fd; /* watched descriptor, non-blocking */
	vw_io_fn cb; /* called with the ready EPOLL* events */
	uint32_t events; /* currently watched events; 0 = not watched */
};

/* vw_loop_new - create the epoll instance. */
int vw_loop_new(struct vw_loop **ret_loop);

/* vw_loop_free - close it. Accepts NULL. */
void vw_loop_free(struct vw_loop *l);

/*
 * vw_loop_watch - watch @io->fd for @events (EPOLLIN/EPOLLOUT), or change the events of an
 * fd already watched. @events == 0 unwatches.
 */
int vw_loop_watch(struct vw_loop *l, struct vw_io *io, uint32_t events);

/* vw_loop_unwatch - stop watching @io (no-op when not watched). */
void vw_loop_unwatch(struct vw_loop *l, struct vw_io *io);

/*
 * vw_loop_wait - wait up to @timeout ms (-1: forever) and run the callbacks of ready fds.
 * Returns the number of callbacks run (0 on timeout or EINTR) or -errno.
 */
int vw_loop_wait(struct vw_loop *l, int timeout);

#endif
