// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* /proc/net/netstat parsing: names matched to values, whatever their order. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "netstat.h"

static int parse(const char *text, struct tcpext_counters *c)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err = tcpext_parse(f, c);

	fclose(f);
	return err;
}

static void reads_the_three_counters(void **state)
{
	struct tcpext_counters c;

	(void)state;
	assert_int_equal(parse("TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops\n"
			       "TcpExt: 7 1 12 13\n"
			       "IpExt: InNoRoutes\nIpExt: 0\n", &c), 0);
	assert_int_equal(c.syncookies_sent, 7);
	assert_int_equal(c.listen_overflows, 12);
	assert_int_equal(c.listen_drops, 13);
}

static void missing_counters_are_an_error(void **state)
{
	struct tcpext_counters c;

	(void)state;
	assert_int_equal(parse("IpExt: InNoRoutes\nIpExt: 0\n", &c), -ENOENT);
	assert_int_equal(parse("TcpExt: ListenOverflows\nTcpExt: 3\n", &c), -ENOENT);
	assert_int_equal(parse("TcpExt: ListenOverflows ListenDrops SyncookiesSent\n", &c), -ENOENT);
}

static void reads_this_machine(void **state)
{
	struct tcpext_counters c;

	(void)state;
	assert_int_equal(tcpext_read_self(&c), 0);
	assert_true(c.listen_drops >= c.listen_overflows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_the_three_counters),
		cmocka_unit_test(missing_counters_are_an_error),
		cmocka_unit_test(reads_this_machine),
	};

	return cmocka_run_group_tests_name("netstat", tests, NULL, NULL);
}
