// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target: /proc/net/netstat, read at start and exit. */
#include <stdint.h>
#include <stdio.h>
#include "netstat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcpext_counters c;
	FILE *f = fmemopen((void *)data, size, "r");

	if (!f)
		return 0;
	tcpext_parse(f, &c);
	fclose(f);
	return 0;
}
