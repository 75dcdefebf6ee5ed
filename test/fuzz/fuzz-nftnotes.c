// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz the nf_tables notification parser the monitor runs on every buffer it reads: any
 * bytes must be walked without reading past them, and what it reports must be consistent
 * (a change is one of its fixed descriptions; generations within the array).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/nft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vw_nft_notes notes;
	/* An exact-size heap copy: reading past the input shows under ASan. */
	void *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	vw_nft_parse_notifications(buf, size, "vwtest", 1234, &notes);
	if (notes.n_gens > sizeof(notes.gens) / sizeof(notes.gens[0]))
		abort();
	if (notes.changed && strlen(notes.changed) == 0)
		abort();
	free(buf);
	return 0;
}
