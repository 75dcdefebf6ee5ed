// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * epoll wrapper. Callbacks may unwatch and free other vw_io objects while a batch of events
 * is being dispatched (curl closes sockets from inside its callbacks), so unwatching an io
 * also clears it from the batch still to be dispatched.
 */
#include "vpnwall/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vpnwall/util.h"

#define MAX_EVENTS 64

struct vw_loop {
	int epfd;
	struct epoll_event ev[MAX_EVENTS]; /* the batch being dispatched */
	int n_ev;
};

int vw_loop_new(struct vw_loop **ret_loop)
{
	struct vw_loop *l;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;

		free(l);
		return r;
	}
	*ret_loop = l;
	return 0;
}

void vw_loop_free(struct vw_loop *l)
{
	if (!l)
		return;
	(void)close(l->epfd);
	free(l);
}

int vw_loop_watch(struct vw_loop *l, struct vw_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };
	int op;

	if (events == 0) {
		vw_loop_unwatch(l, io);
		return 0;
	}
	op = io->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(l->epfd, op, io->fd, &ev) < 0)
		return -errno;
	io->events = events;
	return 0;
}

void vw_loop_unwatch(struct vw_loop *l, struct vw_io *io)
{
	if (!io->events)
		return;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->events = 0;
	/* The io may be freed right after this: forget it in the batch being dispatched. */
	for (int i = 0; i < l->n_ev; i++)
		if (l->ev[i].data.ptr == io)
			l->ev[i].data.ptr = NULL;
}

int vw_loop_wait(struct vw_loop *l, int timeout)
{
	int n, ran = 0;

	n = epoll_wait(l->epfd, l->ev, MAX_EVENTS, timeout);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->n_ev = n;
	for (int i = 0; i < n; i++) {
		struct vw_io *io = l->ev[i].data.ptr;

		if (!io)
			continue;
		io->cb(io, l->ev[i].events);
		ran++;
	}
	l->n_ev = 0;
	return ran;
}
