/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Docker Engine API client over the unix socket (libcurl multi, driven by the event loop).
 * It keeps a consistent picture with as little traffic as possible: the events stream is
 * opened first, then networks and containers are listed once; afterwards every relevant
 * event triggers a single inspect of the container concerned. If the stream breaks, it
 * reconnects with backoff and delivers a fresh full snapshot; if an event is lost while the
 * stream is fine, it delivers one without reconnecting. It never polls.
 *
 * Memory is bounded whatever Docker sends: a container described in more than
 * VW_DOCKER_OBJECT_MAX bytes is reported gone (fail closed: untracked, its traffic is
 * dropped) and counted by vw_docker_rejected().
 */
#ifndef VW_DOCKER_H
#define VW_DOCKER_H

#include <stdbool.h>
#include <stddef.h>

struct vw_container;
struct vw_docker;
struct vw_docker_event;
struct vw_loop;
struct vw_network;

#define VW_DOCKER_OBJECT_MAX (1024 * 1024) /* bytes of one container, in a list or inspected */

struct vw_docker_ops {
	/*
	 * A full snapshot after (re)connecting, or after a resync while connected (something
	 * was lost, e.g. an event too long to read in full). Takes ownership of both arrays.
	 */
	void (*synced)(void *ud, struct vw_container *cs, size_t n, struct vw_network *nets,
		       size_t n_nets);
	/* Container @id changed; @c is its new state (ownership moves), NULL if it is gone. */
	void (*container)(void *ud, const char *id, struct vw_container *c);
	/* The network list changed. Takes ownership. */
	void (*networks)(void *ud, struct vw_network *nets, size_t n);
	/*
	 * An event arrived, before the container it concerns is re-inspected: revocations
	 * (die, disconnect) can take effect at once. Must not call back into this module.
	 */
	void (*event)(void *ud, const struct vw_docker_event *ev);
	/*
	 * The connection went down (@reason) or came back and synced (@reason NULL). A resync
	 * while connected is not reported here.
	 */
	void (*state)(void *ud, bool synced, const char *reason);
};

/* vw_docker_new - a client for the socket at @path; call vw_docker_start() to connect. */
int vw_docker_new(struct vw_loop *loop, const char *path, const struct vw_docker_ops *ops, void *ud,
		  struct vw_docker **ret_docker);

/* vw_docker_free - abort all transfers. Accepts NULL. */
void vw_docker_free(struct vw_docker *d);

/* vw_docker_start - begin connecting (and keep reconnecting). */
int vw_docker_start(struct vw_docker *d);

/* vw_docker_timeout - ms until vw_docker_process_timeouts() is due, or -1. */
int vw_docker_timeout(struct vw_docker *d);

/* vw_docker_process_timeouts - run curl's and our own (reconnect) timers when due. */
void vw_docker_process_timeouts(struct vw_docker *d);

/* vw_docker_api_version - the negotiated API version ("" before the first connect). */
const char *vw_docker_api_version(const struct vw_docker *d);

/* vw_docker_live_restore - whether containers keep running while dockerd is down. */
bool vw_docker_live_restore(const struct vw_docker *d);

/*
 * vw_docker_rejected - containers not tracked since the start because Docker described them
 * in more than VW_DOCKER_OBJECT_MAX bytes, or beyond VW_DOCKER_LIST_MAX in a list.
 */
size_t vw_docker_rejected(const struct vw_docker *d);

#endif
