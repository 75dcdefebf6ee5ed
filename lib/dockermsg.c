// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Parsing of Docker API bodies. The same container shape arrives from two endpoints that
 * disagree on details (the list has "State": "running" and "Names": [...], inspect has
 * "State": {"Running": true} and "Name"), so both go through one function that accepts
 * either form.
 *
 * cJSON needs a whole text and costs many times its size in memory, so what can grow without
 * bound never reaches it whole: the container list is split into its elements first, and of
 * an over-long event line or container only the leading fields are read, by a small scanner
 * that decodes strings exactly as cJSON does.
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

static bool is_container_action(const char *action)
{
	static const char *const actions[] = { "start",	 "die",	   "destroy",
					       "rename", "update", "restart" };

	for (size_t i = 0; i < ELEMENTSOF(actions); i++)
		if (strcmp(action, actions[i]) == 0)
			return true;
	return false;
}

static bool is_connection_action(const char *action)
{
	return strcmp(action, "connect") == 0 || strcmp(action, "disconnect") == 0;
}

/*
 * The event as we act upon it, from the fields of the line that matter (each NULL when
 * absent): both the whole-line and the prefix parser end here, so they cannot disagree.
 */
static struct vw_docker_event classify(const char *type, const char *action, const char *actor_id,
				       const char *attr_container)
{
	struct vw_docker_event ev = { .kind = VW_EV_IGNORED };
	const char *id = NULL;
	bool relevant = false;

	if (!type || !action)
		return ev;
	(void)vw_strscpy(ev.action, action, sizeof(ev.action));

	if (strcmp(type, "container") == 0) {
		id = actor_id;
		relevant = is_container_action(action);
	} else if (strcmp(type, "network") == 0) {
		if (is_connection_action(action)) {
			id = attr_container;
			relevant = true;
			if (actor_id && is_hex_id(actor_id))
				(void)vw_strscpy(ev.network_id, actor_id, sizeof(ev.network_id));
		} else if (strcmp(action, "create") == 0 || strcmp(action, "destroy") == 0) {
			ev.kind = VW_EV_NETWORKS;
		}
	}
	if (id && is_hex_id(id)) {
		(void)vw_strscpy(ev.id, id, sizeof(ev.id));
		if (relevant)
			ev.kind = VW_EV_CONTAINER;
	}
	return ev;
}

int vw_dockermsg_parse_event(const char *buf, size_t len, struct vw_docker_event *ret_ev)
{
	_cleanup_(json_freep) cJSON *j = cJSON_ParseWithLength(buf, len);
	const cJSON *actor;

	if (!cJSON_IsObject(j))
		return -EINVAL;
	actor = cJSON_GetObjectItemCaseSensitive(j, "Actor");
	*ret_ev = classify(
		get_str(j, "Type"), get_str(j, "Action"), get_str(actor, "ID"),
		get_str(cJSON_GetObjectItemCaseSensitive(actor, "Attributes"), "container"));
	return 0;
}

/* --- leading fields of a cut object ------------------------------------------------------ */

/*
 * Values are kept to one byte more than an id: a longer one cannot match anything we look
 * for, and stays too long to pass for an id once cut. Keys likewise.
 */
#define SCAN_VALUE_MAX (VW_ID_MAX + 2)
#define SCAN_KEY_MAX 16

enum { PAIR_END, PAIR_STRING, PAIR_OBJECT };

struct scan {
	const char *p;
	const char *end;
};

static void skip_blank(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hex4(const char *p, unsigned *ret)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

static void put(char *out, size_t size, size_t *n, unsigned c)
{
	if (*n + 1 < size)
		out[*n] = (char)c;
	(*n)++;
}

static void put_utf8(char *out, size_t size, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		put(out, size, n, cp);
	} else if (cp < 0x800) {
		put(out, size, n, 0xc0 | cp >> 6);
		put(out, size, n, 0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		put(out, size, n, 0xe0 | cp >> 12);
		put(out, size, n, 0x80 | (cp >> 6 & 0x3f));
		put(out, size, n, 0x80 | (cp & 0x3f));
	} else {
		put(out, size, n, 0xf0 | cp >> 18);
		put(out, size, n, 0x80 | (cp >> 12 & 0x3f));
		put(out, size, n, 0x80 | (cp >> 6 & 0x3f));
		put(out, size, n, 0x80 | (cp & 0x3f));
	}
}

/* \uXXXX at @p, a surrogate pair taken together, as cJSON decodes it. Returns its length. */
static int scan_unicode(const char *p, const char *end, unsigned *ret_cp)
{
	unsigned cp, lo;

	if (end - p < 6)
		return -ENODATA;
	if (hex4(p + 2, &cp) < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
		return -EINVAL;
	if (cp < 0xd800 || cp > 0xdbff) {
		*ret_cp = cp;
		return 6;
	}
	if (end - p < 12)
		return -ENODATA;
	if (p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
		return -EINVAL;
	*ret_cp = 0x10000 + ((cp & 0x3ff) << 10 | (lo & 0x3ff));
	return 12;
}

/*
 * Decode the string whose opening quote is at s->p into @out, cut to @size - 1 bytes and
 * NUL-terminated. Returns 0, -ENODATA when the input ends inside it, -EINVAL if malformed.
 */
static int scan_str(struct scan *s, char *out, size_t size)
{
	static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
	const char *p = s->p + 1, *e;
	size_t n = 0;

	while (p < s->end && *p != '"') {
		unsigned cp;
		int r;

		if (*p != '\\') {
			put(out, size, &n, (unsigned char)*p++);
			continue;
		}
		if (s->end - p < 2)
			return -ENODATA;
		if (p[1] != 'u') {
			e = p[1] ? strchr(plain, p[1]) : NULL;
			if (!e)
				return -EINVAL;
			put(out, size, &n, (unsigned char)decoded[e - plain]);
			p += 2;
			continue;
		}
		r = scan_unicode(p, s->end, &cp);
		if (r < 0)
			return r;
		put_utf8(out, size, &n, cp);
		p += r;
	}
	if (p >= s->end)
		return -ENODATA;
	out[n < size ? n : size - 1] = '\0';
	s->p = p + 1;
	return 0;
}

/*
 * The next pair of the object being walked: s->p is just inside its brace (@first) or after
 * the previous value. Returns PAIR_STRING with @key and @val read, PAIR_OBJECT with @key read
 * and s->p inside the value's brace, PAIR_END past the closing brace, or -errno where the
 * walk cannot go on: a value of another kind, the end of the input, bad syntax.
 */
static int next_pair(struct scan *s, bool *first, char *key, char *val)
{
	int r;

	skip_blank(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return PAIR_END;
	}
	if (!*first) {
		if (s->p >= s->end)
			return -ENODATA;
		if (*s->p != ',')
			return -EINVAL;
		s->p++;
		skip_blank(s);
	}
	*first = false;
	if (s->p >= s->end)
		return -ENODATA;
	if (*s->p != '"')
		return -EINVAL;
	r = scan_str(s, key, SCAN_KEY_MAX);
	if (r < 0)
		return r;
	skip_blank(s);
	if (s->p >= s->end)
		return -ENODATA;
	if (*s->p != ':')
		return -EINVAL;
	s->p++;
	skip_blank(s);
	if (s->p >= s->end)
		return -ENODATA;
	if (*s->p == '{') {
		s->p++;
		return PAIR_OBJECT;
	}
	if (*s->p != '"')
		return -ENOTSUP;
	r = scan_str(s, val, SCAN_VALUE_MAX);
	return r < 0 ? r : PAIR_STRING;
}

static int scan_open(struct scan *s, const char *buf, size_t len)
{
	*s = (struct scan){ .p = buf, .end = buf + len };
	skip_blank(s);
	if (s->p >= s->end || *s->p != '{')
		return -EINVAL;
	s->p++;
	return 0;
}

/* Keep the first value of @want, as cJSON's lookup finds the first member of that name. */
static void take(const char *key, const char *want, const char *val, char *field, bool *seen)
{
	if (*seen || strcmp(key, want) != 0)
		return;
	*seen = true;
	(void)vw_strscpy(field, val, SCAN_VALUE_MAX);
}

int vw_dockermsg_parse_event_prefix(const char *buf, size_t len, struct vw_docker_event *ret_ev)
{
	char key[SCAN_KEY_MAX], val[SCAN_VALUE_MAX];
	char type[SCAN_VALUE_MAX], action[SCAN_VALUE_MAX], actor_id[SCAN_VALUE_MAX],
		id[SCAN_VALUE_MAX];
	bool has_type = false, has_action = false, has_actor_id = false, has_id = false;
	bool first = true, in_actor = false, actor_seen = false, whole;
	struct vw_docker_event ev;
	struct scan s;
	int r;

	r = scan_open(&s, buf, len);
	if (r < 0)
		return r;
	for (;;) {
		r = next_pair(&s, &first, key, val);
		if (r == PAIR_END && in_actor) {
			in_actor = false;
			first = false;
			continue;
		}
		if (r < 0 || r == PAIR_END)
			break;
		if (in_actor) {
			if (r == PAIR_OBJECT) /* the attributes: nothing we need follows */
				break;
			take(key, "ID", val, actor_id, &has_actor_id);
			continue;
		}
		/* cJSON's lookup finds the first "Actor", whatever its kind: so do we. */
		if (!actor_seen && strcmp(key, "Actor") == 0) {
			actor_seen = true;
			if (r == PAIR_OBJECT) {
				in_actor = true;
				first = true;
				continue;
			}
		}
		if (r == PAIR_OBJECT) /* a value we do not walk: the rest stays unread */
			break;
		take(key, "Type", val, type, &has_type);
		take(key, "Action", val, action, &has_action);
		take(key, "id", val, id, &has_id);
	}
	whole = r == PAIR_END;
	ev = classify(has_type ? type : NULL, has_action ? action : NULL,
		      has_actor_id ? actor_id : NULL, NULL);

	/* Cut short: whether what was lost matters depends on what the event is. */
	if (!whole && has_type && has_action) {
		if (strcmp(type, "container") == 0)
			whole = !is_container_action(action) || has_actor_id;
		else if (strcmp(type, "network") == 0)
			whole = !is_connection_action(action);
		else
			whole = true;
	}
	/* A container event we cannot read in full is about a container we can re-inspect. */
	if (!whole && has_type && strcmp(type, "container") == 0) {
		const char *cid = has_actor_id ? actor_id : has_id ? id : NULL;

		if (cid && is_hex_id(cid)) {
			ev.kind = VW_EV_CONTAINER;
			(void)vw_strscpy(ev.id, cid, sizeof(ev.id));
		}
	}
	*ret_ev = ev;
	return whole;
}

int vw_dockermsg_parse_id_prefix(const char *buf, size_t len, char *ret_id)
{
	char key[SCAN_KEY_MAX], val[SCAN_VALUE_MAX];
	bool first = true;
	struct scan s;
	int r;

	r = scan_open(&s, buf, len);
	if (r < 0)
		return r;
	for (;;) {
		r = next_pair(&s, &first, key, val);
		if (r != PAIR_STRING)
			return -ENOENT;
		if (strcmp(key, "Id") != 0)
			continue;
		if (!is_hex_id(val))
			return -EINVAL;
		(void)vw_strscpy(ret_id, val, VW_ID_MAX + 1);
		return 0;
	}
}

/* "02:42:c6:12:01:02": exactly six two-digit hex groups. */
static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	int end = 0;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &end) != 6 ||
	    end != 17 || s[end])
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return true;
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
		const char *eid = get_str(n, "EndpointID"), *mac = get_str(n, "MacAddress");

		if (!id || !is_hex_id(id) || !n->string)
			continue;
		(void)vw_strscpy(ep.network_id, id, sizeof(ep.network_id));
		(void)vw_strscpy(ep.network, n->string, sizeof(ep.network));
		if (eid && is_hex_id(eid))
			(void)vw_strscpy(ep.endpoint_id, eid, sizeof(ep.endpoint_id));
		ep.has_mac = mac && parse_mac(mac, ep.mac);
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
		r = vw_grow((void **)&v, &cap, n + 1, sizeof(*v), VW_DOCKER_LIST_MAX);
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

/* One element of GET /networks; false when it is not a network we can read. */
static bool network_from(const cJSON *o, struct vw_network *net)
{
	const char *id = get_str(o, "Id"), *name = get_str(o, "Name");
	const char *driver = get_str(o, "Driver"), *br;

	if (!id || !is_hex_id(id) || !name)
		return false;
	*net = (struct vw_network){ 0 };
	(void)vw_strscpy(net->id, id, sizeof(net->id));
	(void)vw_strscpy(net->name, name, sizeof(net->name));
	net->is_bridge = driver && strcmp(driver, "bridge") == 0;
	if (!net->is_bridge)
		return true;
	br = get_str(cJSON_GetObjectItemCaseSensitive(o, "Options"),
		     "com.docker.network.bridge.name");
	/* Docker names a bridge br-<first 12 digits of the id> unless told otherwise. */
	if (br && *br && strlen(br) < sizeof(net->bridge))
		(void)vw_strscpy(net->bridge, br, sizeof(net->bridge));
	else
		snprintf(net->bridge, sizeof(net->bridge), VW_DOCKER_BRIDGE_PREFIX "%.12s", id);
	return true;
}

int vw_dockermsg_parse_network(const char *buf, size_t len, struct vw_network *ret)
{
	_cleanup_(json_freep) cJSON *j = cJSON_ParseWithLength(buf, len);

	if (!cJSON_IsObject(j) || !network_from(j, ret))
		return -EINVAL;
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
		struct vw_network net;

		if (!network_from(o, &net))
			continue;
		r = vw_grow((void **)&v, &cap, n + 1, sizeof(*v), VW_DOCKER_LIST_MAX);
		if (r < 0) {
			free(v);
			return r;
		}
		v[n++] = net;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* --- splitting an array as it arrives ---------------------------------------------------- */

enum split_state {
	SPLIT_START, /* before the '[' */
	SPLIT_FIRST, /* after the '[': an element or ']' */
	SPLIT_NEXT, /* after a ',': an element */
	SPLIT_VALUE, /* inside an element */
	SPLIT_AFTER, /* after an element: ',' or ']' */
	SPLIT_DONE, /* after the ']' */
	SPLIT_ERROR,
};

enum { VALUE_GOES_ON, VALUE_ENDS_WITH, VALUE_ENDED_BEFORE };

struct vw_json_splitter {
	size_t max; /* bytes kept of an element */
	char *buf; /* the first bytes of the element being read */
	size_t len; /* bytes in buf */
	size_t cap; /* allocated size of buf */
	size_t size; /* bytes of the element so far, kept or not */
	size_t depth; /* brackets open in the element (0: a string, number or literal) */
	enum split_state state;
	bool in_str; /* inside a string of the element */
	bool esc; /* just after a backslash in that string */
};

/* cJSON skips every byte up to the space as blank; splitting where it does keeps us in step. */
static bool is_blank(unsigned char c)
{
	return c <= ' ';
}

static bool is_structural(unsigned char c)
{
	return strchr("{}[]\",:", c) != NULL;
}

int vw_json_splitter_new(size_t max, struct vw_json_splitter **ret_splitter)
{
	struct vw_json_splitter *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->max = max;
	*ret_splitter = s;
	return 0;
}

void vw_json_splitter_free(struct vw_json_splitter *s)
{
	if (!s)
		return;
	free(s->buf);
	free(s);
}

bool vw_json_splitter_is_done(const struct vw_json_splitter *s)
{
	return s->state == SPLIT_DONE;
}

static int keep(struct vw_json_splitter *s, const char *p, size_t n)
{
	size_t k = n < s->max - s->len ? n : s->max - s->len;
	int r;

	s->size += n;
	if (k == 0)
		return 0;
	r = vw_grow((void **)&s->buf, &s->cap, s->len + k, 1, s->max);
	if (r < 0)
		return r;
	memcpy(s->buf + s->len, p, k);
	s->len += k;
	return 0;
}

static int begin_value(struct vw_json_splitter *s, unsigned char c)
{
	s->len = s->size = 0;
	s->depth = c == '{' || c == '[';
	s->in_str = c == '"';
	s->esc = false;
	if (!s->depth && !s->in_str && is_structural(c))
		return -EINVAL;
	return 0;
}

static int value_step(struct vw_json_splitter *s, unsigned char c)
{
	if (s->in_str) {
		if (s->esc)
			s->esc = false;
		else if (c == '\\')
			s->esc = true;
		else if (c == '"')
			s->in_str = false;
		return !s->in_str && s->depth == 0 ? VALUE_ENDS_WITH : VALUE_GOES_ON;
	}
	if (s->depth == 0) { /* a number or a literal ends where something else begins */
		if (is_blank(c) || c == ',' || c == ']')
			return VALUE_ENDED_BEFORE;
		return is_structural(c) ? -EINVAL : VALUE_GOES_ON;
	}
	switch (c) {
	case '"':
		s->in_str = true;
		break;
	case '{':
	case '[':
		s->depth++;
		break;
	case '}':
	case ']':
		if (--s->depth == 0)
			return VALUE_ENDS_WITH;
		break;
	}
	return VALUE_GOES_ON;
}

static int after_value(struct vw_json_splitter *s, unsigned char c)
{
	if (is_blank(c))
		return 0;
	if (c == ',')
		s->state = SPLIT_NEXT;
	else if (c == ']')
		s->state = SPLIT_DONE;
	else
		return -EINVAL;
	return 0;
}

int vw_json_splitter_feed(struct vw_json_splitter *s, const char *data, size_t n,
			  vw_json_element_fn cb, void *ud)
{
	size_t start = 0; /* where the element being read begins in @data */
	bool ended_before;
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++) {
		unsigned char c = (unsigned char)data[i];

		switch (s->state) {
		case SPLIT_START:
			if (c == '[')
				s->state = SPLIT_FIRST;
			else if (!is_blank(c))
				r = -EINVAL;
			break;
		case SPLIT_FIRST:
		case SPLIT_NEXT:
			if (is_blank(c))
				break;
			if (c == ']' && s->state == SPLIT_FIRST) {
				s->state = SPLIT_DONE;
				break;
			}
			r = begin_value(s, c);
			start = i;
			s->state = SPLIT_VALUE;
			break;
		case SPLIT_VALUE:
			r = value_step(s, c);
			if (r < 0 || r == VALUE_GOES_ON)
				break;
			ended_before = r == VALUE_ENDED_BEFORE;
			r = keep(s, data + start, i - start + !ended_before);
			if (r >= 0)
				r = cb(ud, s->buf, s->len, s->size);
			s->state = SPLIT_AFTER;
			/* The byte that ended a number or literal is the next token. */
			if (r >= 0 && ended_before)
				r = after_value(s, c);
			break;
		case SPLIT_AFTER:
			r = after_value(s, c);
			break;
		case SPLIT_DONE:
			return 0;
		case SPLIT_ERROR:
			return -EINVAL;
		}
	}
	if (r >= 0 && s->state == SPLIT_VALUE)
		r = keep(s, data + start, n - start);
	if (r < 0) {
		s->state = SPLIT_ERROR;
		return r;
	}
	return 0;
}
