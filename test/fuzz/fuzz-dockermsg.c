// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz every Docker API body parser with the same bytes: events, inspect, list, networks
 * and version. Parsed ids must stay hex (they end up in URLs and nft object names).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char api[VW_DOCKER_API_MAX_LEN], min[VW_DOCKER_API_MAX_LEN];
	struct vw_docker_event ev;
	struct vw_container c, *cs;
	struct vw_network *nets;
	size_t n;

	if (vw_dockermsg_parse_event(buf, size, &ev) == 0 && ev.kind == VW_EV_CONTAINER)
		check_id(ev.id);
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
	(void)vw_dockermsg_parse_version(buf, size, api, min);
	return 0;
}
