/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Docker Engine API messages (JSON, via cJSON) -> our plain structs. No I/O: the docker
 * module feeds these functions the bodies it received. Input is untrusted (fuzzed): every
 * field is optional, type-checked and length-capped. Bodies too large to hold whole are
 * handled in pieces: a container list is split into its elements as it arrives, and of an
 * over-long event or container only the leading fields are read.
 */
#ifndef VW_DOCKERMSG_H
#define VW_DOCKERMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vw_container;
struct vw_json_splitter;
struct vw_network;

#define VW_DOCKER_API_MAX_LEN 16
#define VW_DOCKER_LIST_MAX 65536 /* containers or networks in a list; more are not kept */

enum vw_docker_event_kind {
	VW_EV_IGNORED, /* anything we do not act upon */
	VW_EV_CONTAINER, /* something about container ev.id changed: re-inspect it */
	VW_EV_NETWORKS, /* the set of networks changed: re-list them */
};

struct vw_docker_event {
	enum vw_docker_event_kind kind;
	char id[65]; /* the container concerned, if known (always for VW_EV_CONTAINER) */
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
 * vw_dockermsg_parse_event_prefix - the event of a line of GET /events of which only the
 * beginning @buf was kept. Docker writes "Type", "Action" and "Actor"."ID" before the
 * attributes that can make a line huge (every label of the container), so these are read
 * from the leading "key": "string" pairs; the walk stops at the first other value.
 * Returns 1 when @ret_ev is what vw_dockermsg_parse_event() would give for the whole line
 * (except that an ignored event may not name its container), 0 when something it depends on
 * was cut off (then @ret_ev is VW_EV_CONTAINER if a container id could still be read, to be
 * re-inspected, else the caller must resync everything), -EINVAL when @buf does not start an
 * object.
 */
int vw_dockermsg_parse_event_prefix(const char *buf, size_t len, struct vw_docker_event *ret_ev);

/*
 * vw_dockermsg_parse_id_prefix - the "Id" of an object of which only the beginning @buf was
 * kept (Docker writes it first), into @ret_id of VW_ID_MAX + 1 bytes. Returns 0, -ENOENT when
 * no "Id" precedes the first value that is not a string, -EINVAL when @buf does not start an
 * object or the id is not hex.
 */
int vw_dockermsg_parse_id_prefix(const char *buf, size_t len, char *ret_id);

/*
 * vw_dockermsg_parse_container - GET /containers/{id}/json into @ret (zeroed first; free
 * with vw_container_done() on success). Labels are parsed into ret->labels.
 */
int vw_dockermsg_parse_container(const char *buf, size_t len, struct vw_container *ret);

/* vw_dockermsg_parse_containers - GET /containers/json; *ret is a malloc'd array. */
int vw_dockermsg_parse_containers(const char *buf, size_t len, struct vw_container **ret,
				  size_t *ret_n);

/*
 * vw_dockermsg_parse_network - one element of GET /networks. -EINVAL when it is not a
 * network we can read (no hex id, no name).
 */
int vw_dockermsg_parse_network(const char *buf, size_t len, struct vw_network *ret);

/* vw_dockermsg_parse_networks - GET /networks whole; *ret is a malloc'd array. */
int vw_dockermsg_parse_networks(const char *buf, size_t len, struct vw_network **ret,
				size_t *ret_n);

/*
 * Called with each element of the array: its first @len bytes in @buf (valid during the call)
 * and its whole length @size; @size > @len when the element was cut. A negative return stops
 * the split and is returned by vw_json_splitter_feed().
 */
typedef int (*vw_json_element_fn)(void *ud, const char *buf, size_t len, size_t size);

/*
 * vw_json_splitter_new - a splitter of a JSON array into its elements as its bytes arrive, so
 * that a list far larger than any one element is never held whole. Only the first @max bytes
 * of an element are kept; the rest is scanned (strings, escapes, nesting) but not stored.
 */
int vw_json_splitter_new(size_t max, struct vw_json_splitter **ret_splitter);

/* vw_json_splitter_free - free it. Accepts NULL. */
void vw_json_splitter_free(struct vw_json_splitter *s);

/*
 * vw_json_splitter_feed - the next @n bytes of the array, in any pieces. Calls @cb for every
 * element completed by them. Bytes after the closing bracket are ignored, as cJSON ignores
 * them. Returns 0, -EINVAL when the input is not an array, -ENOMEM, or the error of @cb;
 * after an error every further feed fails.
 */
int vw_json_splitter_feed(struct vw_json_splitter *s, const char *data, size_t n,
			  vw_json_element_fn cb, void *ud);

/* vw_json_splitter_is_done - whether the closing bracket of the array was seen. */
bool vw_json_splitter_is_done(const struct vw_json_splitter *s);

/* vw_docker_api_cmp - compare "1.41"-style versions: <0, 0, >0. */
int vw_docker_api_cmp(const char *a, const char *b);

#endif
