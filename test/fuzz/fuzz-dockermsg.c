// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz every Docker API body parser with the same bytes: events (whole and cut), inspect,
 * list, networks and version. Parsed ids must stay hex (they end up in URLs and nft object
 * names), and a cut event line that claims to be read in full must read as the whole line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/dockermsg.h"
#include "vpnwall/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_id(const char *id)
{
	for (; *id; id++)
		if (!strchr("0123456789abcdef", *id))
			abort();
}

static void check_prefix(const char *buf, size_t cut, int whole_r,
			 const struct vw_docker_event *whole)
{
	struct vw_docker_event ev;
	int r = vw_dockermsg_parse_event_prefix(buf, cut, &ev);

	if (r < 0)
		return;
	check_id(ev.id);
	check_id(ev.network_id);
	if (ev.kind == VW_EV_CONTAINER && !ev.id[0])
		abort();
	/* An ignored event may not name its container when cut before it: nothing to do anyway. */
	if (r == 1 && whole_r == 0 &&
	    (ev.kind != whole->kind || strcmp(ev.network_id, whole->network_id) != 0 ||
	     strcmp(ev.action, whole->action) != 0 ||
	     (strcmp(ev.id, whole->id) != 0 && (ev.kind != VW_EV_IGNORED || ev.id[0]))))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char api[VW_DOCKER_API_MAX_LEN], min[VW_DOCKER_API_MAX_LEN];
	struct vw_docker_event ev;
	struct vw_container c, *cs;
	struct vw_network *nets, net;
	size_t n;
	int r;

	r = vw_dockermsg_parse_event(buf, size, &ev);
	if (r == 0) {
		check_id(ev.id);
		check_id(ev.network_id);
	}
	/* Every cut for short inputs; for long ones the ends and two more. */
	if (size <= 512) {
		for (size_t cut = 0; cut <= size; cut++)
			check_prefix(buf, cut, r, &ev);
	} else {
		check_prefix(buf, size, r, &ev);
		check_prefix(buf, size - 1, r, &ev);
		check_prefix(buf, size / 2, r, &ev);
		check_prefix(buf, data[0] * size / 256, r, &ev);
	}
	if (vw_dockermsg_parse_container(buf, size, &c) == 0) {
		check_id(c.id);
		vw_container_done(&c);
	}
	if (vw_dockermsg_parse_containers(buf, size, &cs, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			check_id(cs[i].id);
			vw_container_done(&cs[i]);
		}
		free(cs);
	}
	if (vw_dockermsg_parse_networks(buf, size, &nets, &n) == 0)
		free(nets);
	if (vw_dockermsg_parse_network(buf, size, &net) == 0 && net.is_bridge && !net.bridge[0])
		abort(); /* a bridge always has its interface name */
	(void)vw_dockermsg_parse_version(buf, size, api, min);
	return 0;
}
