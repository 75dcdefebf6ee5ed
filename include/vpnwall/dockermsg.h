/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Docker Engine API messages (JSON, via cJSON) -> our plain structs. No I/O: the docker
 * module feeds these functions the bodies it received. Input is untrusted (fuzzed): every
 * field is optional, type-checked and length-capped.
 */
#ifndef VW_DOCKERMSG_H
#define VW_DOCKERMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vw_container;
struct vw_network;

#define VW_DOCKER_API_MAX_LEN 16

enum vw_docker_event_kind {
	VW_EV_IGNORED, /* anything we do not act upon */
	VW_EV_CONTAINER, /* something about container ev.id changed: re-inspect it */
	VW_EV_NETWORKS, /* the set of networks changed: re-list them */
};

struct vw_docker_event {
	enum vw_docker_event_kind kind;
	char id[65]; /* container id (VW_EV_CONTAINER) */
	char network_id[65]; /* network of a connect/disconnect event, else "" */
	char action[32]; /* Docker's action, e.g. "start", "connect" (truncated) */
};

/* vw_dockermsg_parse_version - ApiVersion and MinAPIVersion of GET /version. */
int vw_dockermsg_parse_version(const char *buf, size_t len, char *api, char *min_api);

/* vw_dockermsg_parse_info - LiveRestoreEnabled of GET /info. */
int vw_dockermsg_parse_info(const char *buf, size_t len, bool *ret_live_restore);

/* vw_dockermsg_parse_event - one line of GET /events. -EINVAL if not an event object. */
int vw_dockermsg_parse_event(const char *buf, size_t len, struct vw_docker_event *ret_ev);

/*
 * vw_dockermsg_parse_container - GET /containers/{id}/json into @ret (zeroed first; free
 * with vw_container_done() on success). Labels are parsed into ret->labels.
 */
int vw_dockermsg_parse_container(const char *buf, size_t len, struct vw_container *ret);

/* vw_dockermsg_parse_containers - GET /containers/json; *ret is a malloc'd array. */
int vw_dockermsg_parse_containers(const char *buf, size_t len, struct vw_container **ret,
				  size_t *ret_n);

/* vw_dockermsg_parse_networks - GET /networks; *ret is a malloc'd array. */
int vw_dockermsg_parse_networks(const char *buf, size_t len, struct vw_network **ret,
				size_t *ret_n);

/* vw_docker_api_cmp - compare "1.41"-style versions: <0, 0, >0. */
int vw_docker_api_cmp(const char *a, const char *b);

#endif
