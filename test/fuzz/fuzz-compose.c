// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz the docker-compose label reader. Input: the file. Beyond not crashing, every label
 * handed to the callback must be a NUL-terminated string, and a failure must be -EINVAL
 * with a "line N: " message.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/compose.h"

#define SCALAR_BOUND 4096 /* no scalar can be longer than a line */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_label(void *ud, const char *service, const char *key, const char *value)
{
	/* strnlen within bounds: the terminator must be there (ASan catches reads past) */
	if (!service || !key || !value)
		abort();
	if (strnlen(service, SCALAR_BOUND) >= SCALAR_BOUND ||
	    strnlen(key, SCALAR_BOUND) >= SCALAR_BOUND ||
	    strnlen(value, SCALAR_BOUND) >= SCALAR_BOUND)
		abort();
	(*(size_t *)ud)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	size_t n = 0;
	char *text;
	int r;

	if (size > 65536)
		return 0;
	/* an exact-size copy, not NUL-terminated: the reader must honour the length */
	text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	memset(err, 0xff, sizeof(err));
	r = vw_compose_labels(text, size, check_label, &n, err, sizeof(err));
	if (r != 0 && r != -EINVAL)
		abort();
	if (r == -EINVAL &&
	    (memchr(err, '\0', sizeof(err)) == NULL || strncmp(err, "line ", 5) != 0))
		abort();
	free(text);
	return 0;
}
