// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Parsing of Docker API bodies. The same container shape arrives from two endpoints that
 * disagree on details (the list has "State": "running" and "Names": [...], inspect has
 * "State": {"Running": true} and "Name"), so both go through one function that accepts
 * either form.
 */
#include "vpnwall/dockermsg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "vpnwall/labels.h"
#include "vpnwall/policy.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/util.h"

#define LIST_MAX 65536

static void json_freep(cJSON **j)
{
	cJSON_Delete(*j);
}

static const char *get_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static bool is_hex_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > VW_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int vw_docker_api_cmp(const char *a, const char *b)
{
	unsigned long amaj = 0, amin = 0, bmaj = 0, bmin = 0;

	(void)sscanf(a, "%lu.%lu", &amaj, &amin);
	(void)sscanf(b, "%lu.%lu", &bmaj, &bmin);
	if (amaj != bmaj)
		return amaj < bmaj ? -1 : 1;
	if (amin != bmin)
		return amin < bmin ? -1 : 1;
	return 0;
}

static bool valid_api(const char *s)
{
	unsigned long maj, min;
	int end = 0;

	return s && strlen(s) < VW_DOCKER_API_MAX_LEN &&
	       sscanf(s, "%lu.%lu%n", &maj, &min, &end) == 2 && s[end] == '\0';
}

int vw_dockermsg_parse_version(const char *buf, size_t len, char *api, char *min_api)
{
	_cleanup_(json_freep) cJSON *j = cJSON_ParseWithLength(buf, len);
	const char *a, *m;

	if (!cJSON_IsObject(j))
		return -EINVAL;
	a = get_str(j, "ApiVersion");
	m = get_str(j, "MinAPIVersion");
	if (!valid_api(a))
		return -EINVAL;
	(void)vw_strscpy(api, a, VW_DOCKER_API_MAX_LEN);
	(void)vw_strscpy(min_api, valid_api(m) ? m : "1.12", VW_DOCKER_API_MAX_LEN);
	return 0;
}

int vw_dockermsg_parse_info(const char *buf, size_t len, bool *ret_live_restore)
{
	_cleanup_(json_freep) cJSON *j = cJSON_ParseWithLength(buf, len);

	if (!cJSON_IsObject(j))
		return -EINVAL;
	*ret_live_restore = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "LiveRestoreEnabled"));
	return 0;
}

int vw_dockermsg_parse_event(const char *buf, size_t len, struct vw_docker_event *ret_ev)
{
	static const char *const container_actions[] = { "start",  "die",    "destroy",
							 "rename", "update", "restart" };
	_cleanup_(json_freep) cJSON *j = cJSON_ParseWithLength(buf, len);
	struct vw_docker_event ev = { .kind = VW_EV_IGNORED };
	const char *type, *action, *id = NULL;
	const cJSON *actor, *attrs;

	if (!cJSON_IsObject(j))
		return -EINVAL;
	type = get_str(j, "Type");
	action = get_str(j, "Action");
	actor = cJSON_GetObjectItemCaseSensitive(j, "Actor");
	attrs = cJSON_GetObjectItemCaseSensitive(actor, "Attributes");
	if (!type || !action) {
		*ret_ev = ev;
		return 0;
	}
	(void)vw_strscpy(ev.action, action, sizeof(ev.action));

	if (strcmp(type, "container") == 0) {
		for (size_t i = 0; i < ELEMENTSOF(container_actions); i++)
			if (strcmp(action, container_actions[i]) == 0)
				id = get_str(actor, "ID");
	} else if (strcmp(type, "network") == 0) {
		if (strcmp(action, "connect") == 0 || strcmp(action, "disconnect") == 0) {
			const char *net = get_str(actor, "ID");

			id = get_str(attrs, "container");
			if (net && is_hex_id(net))
				(void)vw_strscpy(ev.network_id, net, sizeof(ev.network_id));
		} else if (strcmp(action, "create") == 0 || strcmp(action, "destroy") == 0)
			ev.kind = VW_EV_NETWORKS;
	}
	if (id && is_hex_id(id)) {
		ev.kind = VW_EV_CONTAINER;
		(void)vw_strscpy(ev.id, id, sizeof(ev.id));
	}
	*ret_ev = ev;
	return 0;
}

static int parse_endpoints(const cJSON *nets, struct vw_container *c)
{
	const cJSON *n;

	if (!cJSON_IsObject(nets))
		return 0;
	cJSON_ArrayForEach(n, nets) {
		struct vw_endpoint ep = { 0 }, *p;
		const char *id = get_str(n, "NetworkID");
		const char *a4 = get_str(n, "IPAddress");
		const char *a6 = get_str(n, "GlobalIPv6Address");

		if (!id || !is_hex_id(id) || !n->string)
			continue;
		(void)vw_strscpy(ep.network_id, id, sizeof(ep.network_id));
		(void)vw_strscpy(ep.network, n->string, sizeof(ep.network));
		ep.has4 = a4 && *a4 && inet_pton(AF_INET, a4, ep.addr4) == 1;
		ep.has6 = a6 && *a6 && inet_pton(AF_INET6, a6, ep.addr6) == 1;
		if (c->n_eps >= VW_ENDPOINTS_MAX)
			return -E2BIG;
		p = reallocarray(c->eps, c->n_eps + 1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		c->eps = p;
		c->eps[c->n_eps++] = ep;
	}
	return 0;
}

static int parse_labels(const cJSON *labels, struct vw_container *c)
{
	const cJSON *l;
	int r;

	if (!cJSON_IsObject(labels))
		return 0;
	cJSON_ArrayForEach(l, labels) {
		if (!l->string || !cJSON_IsString(l) || !l->valuestring)
			continue;
		r = vw_labels_add(&c->labels, l->string, l->valuestring);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool is_running(const cJSON *obj)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "State");

	/* A paused container keeps its network; the list calls it "paused", inspect "Running". */
	if (cJSON_IsString(st))
		return st->valuestring && (strcmp(st->valuestring, "running") == 0 ||
					   strcmp(st->valuestring, "paused") == 0);
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "Running"));
}

static int parse_container_obj(const cJSON *obj, struct vw_container *ret)
{
	struct vw_container c = { 0 };
	const cJSON *hc, *cfg, *ns, *names;
	const char *id, *name = NULL, *mode;
	int r;

	if (!cJSON_IsObject(obj))
		return -EINVAL;
	id = get_str(obj, "Id");
	if (!id || !is_hex_id(id))
		return -EINVAL;
	(void)vw_strscpy(c.id, id, sizeof(c.id));

	names = cJSON_GetObjectItemCaseSensitive(obj, "Names");
	if (cJSON_IsArray(names) && cJSON_IsString(cJSON_GetArrayItem(names, 0)))
		name = cJSON_GetArrayItem(names, 0)->valuestring;
	else
		name = get_str(obj, "Name");
	if (name && name[0] == '/')
		name++;
	(void)vw_strscpy(c.name, name ? name : c.id, sizeof(c.name));
	c.running = is_running(obj);

	hc = cJSON_GetObjectItemCaseSensitive(obj, "HostConfig");
	mode = get_str(hc, "NetworkMode");
	if (mode && strcmp(mode, "host") == 0)
		c.host_network = true;
	else if (mode && strncmp(mode, "container:", 10) == 0)
		(void)vw_strscpy(c.netns_owner, mode + 10, sizeof(c.netns_owner));

	ns = cJSON_GetObjectItemCaseSensitive(obj, "NetworkSettings");
	r = parse_endpoints(cJSON_GetObjectItemCaseSensitive(ns, "Networks"), &c);
	if (r >= 0) {
		/* inspect has labels under Config, the list at the top level */
		cfg = cJSON_GetObjectItemCaseSensitive(obj, "Config");
		r = parse_labels(cJSON_IsObject(cfg)
					 ? cJSON_GetObjectItemCaseSensitive(cfg, "Labels")
					 : cJSON_GetObjectItemCaseSensitive(obj, "Labels"),
				 &c);
	}
	if (r < 0) {
		vw_container_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

int vw_dockermsg_parse_container(const char *buf, size_t len, struct vw_container *ret)
{
	_cleanup_(json_freep) cJSON *j = cJSON_ParseWithLength(buf, len);

	return parse_container_obj(j, ret);
}

int vw_dockermsg_parse_containers(const char *buf, size_t len, struct vw_container **ret,
				  size_t *ret_n)
{
	_cleanup_(json_freep) cJSON *j = cJSON_ParseWithLength(buf, len);
	struct vw_container *v = NULL;
	size_t n = 0, cap = 0;
	const cJSON *o;
	int r = 0;

	if (!cJSON_IsArray(j))
		return -EINVAL;
	cJSON_ArrayForEach(o, j) {
		struct vw_container c;

		if (parse_container_obj(o, &c) < 0)
			continue;
		r = vw_grow((void **)&v, &cap, n + 1, sizeof(*v), LIST_MAX);
		if (r < 0) {
			vw_container_done(&c);
			break;
		}
		v[n++] = c;
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			vw_container_done(&v[i]);
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int vw_dockermsg_parse_networks(const char *buf, size_t len, struct vw_network **ret, size_t *ret_n)
{
	_cleanup_(json_freep) cJSON *j = cJSON_ParseWithLength(buf, len);
	struct vw_network *v = NULL;
	size_t n = 0, cap = 0;
	const cJSON *o;
	int r;

	if (!cJSON_IsArray(j))
		return -EINVAL;
	cJSON_ArrayForEach(o, j) {
		const char *id = get_str(o, "Id"), *name = get_str(o, "Name");
		const char *driver = get_str(o, "Driver"), *br;
		struct vw_network *net;

		if (!id || !is_hex_id(id) || !name)
			continue;
		r = vw_grow((void **)&v, &cap, n + 1, sizeof(*v), LIST_MAX);
		if (r < 0) {
			free(v);
			return r;
		}
		net = &v[n++];
		*net = (struct vw_network){ 0 };
		(void)vw_strscpy(net->id, id, sizeof(net->id));
		(void)vw_strscpy(net->name, name, sizeof(net->name));
		net->is_bridge = driver && strcmp(driver, "bridge") == 0;
		if (!net->is_bridge)
			continue;
		br = get_str(cJSON_GetObjectItemCaseSensitive(o, "Options"),
			     "com.docker.network.bridge.name");
		/* Docker names a bridge br-<first 12 digits of the id> unless told otherwise. */
		if (br && *br && strlen(br) < sizeof(net->bridge))
			(void)vw_strscpy(net->bridge, br, sizeof(net->bridge));
		else
			snprintf(net->bridge, sizeof(net->bridge), VW_DOCKER_BRIDGE_PREFIX "%.12s",
				 id);
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
