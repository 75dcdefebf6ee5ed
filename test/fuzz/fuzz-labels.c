// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz the label parser. Input "key=value". Beyond not crashing, every accepted entry must
 * survive a round trip: formatting it and parsing the text again gives the same entry.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const struct vw_dst *d)
{
	char buf[512];
	const char *reason;
	struct vw_dst again;

	vw_dst_format(d, buf, sizeof(buf));
	if (vw_dst_parse(buf, &again, &reason) < 0)
		abort();
	if (again.kind != d->kind || again.family != d->family || again.prefix != d->prefix ||
	    memcmp(again.addr, d->addr, sizeof(d->addr)) != 0 || again.protos != d->protos ||
	    again.port_lo != d->port_lo || again.port_hi != d->port_hi ||
	    (again.name == NULL) != (d->name == NULL) ||
	    (again.name && strcmp(again.name, d->name) != 0))
		abort();
	vw_dst_done(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vw_labels l = { 0 };
	char *s, *eq;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	eq = strchr(s, '=');
	if (eq) {
		*eq = '\0';
		(void)vw_labels_add(&l, s, eq + 1);
	} else {
		(void)vw_labels_add(&l, "vpn.outbound", s);
	}
	for (size_t i = 0; i < l.n_outbound; i++)
		check_roundtrip(&l.outbound[i]);
	for (size_t i = 0; i < l.n_allow; i++)
		check_roundtrip(&l.allow[i]);
	vw_labels_done(&l);
	free(s);
	return 0;
}
