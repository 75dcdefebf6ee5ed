/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Container labels out of a docker-compose file, for offline linting (`vpnwall
 * check-labels --compose`). Pure. It reads the subset of YAML compose files use for
 * labels: block mappings with space indentation, `labels:` as a list of "key=value" items
 * or as a mapping, in block or flow style, plain or quoted scalars. Anything else inside a
 * service's labels (anchors, block scalars, multi-line strings) is reported as unsupported
 * rather than guessed at.
 */
#ifndef VW_COMPOSE_H
#define VW_COMPOSE_H

#include <stddef.h>

/* Called for every label of every service; a negative return stops the walk. */
typedef int (*vw_compose_fn)(void *ud, const char *service, const char *key, const char *value);

/*
 * vw_compose_labels - walk the labels of every service in @text. Returns 0, or -EINVAL with
 * "line N: ..." in @err, or the callback's negative value.
 */
int vw_compose_labels(const char *text, size_t len, vw_compose_fn fn, void *ud, char *err,
		      size_t errsize);

#endif
