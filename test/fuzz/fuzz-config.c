// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz settings parsing: the input is split on newlines into environment entries, and the
 * same entries are also tried as command-line flags.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTRIES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *env[MAX_ENTRIES + 1] = { 0 }, *argv[MAX_ENTRIES + 2] = { 0 };
	struct vw_config c;
	char err[256];
	char *s, *p;
	int n = 0;

	if (size > 8192)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (p = s; p && n < MAX_ENTRIES; n++) {
		env[n] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}
	(void)vw_config_parse(&c, env, 0, NULL, err, sizeof(err));
	vw_config_done(&c);

	argv[0] = (char *)"vpnwalld";
	for (int i = 0; i < n; i++)
		argv[i + 1] = env[i];
	(void)vw_config_parse(&c, NULL, n + 1, argv, err, sizeof(err));
	vw_config_done(&c);
	free(s);
	return 0;
}
