// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The options' defaults that depend on the host: the ring buffers' size. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "options.h"

/* 4 MiB up to 16 CPUs; then 256 KiB a CPU, so that each CPU's ring keeps 256 KiB; 64 MiB at most. */
static void the_default_ring_buffers_grow_with_the_cpus(void **state)
{
	(void)state;
	assert_int_equal(options_default_ringbuf_bytes(1), 4u << 20);
	assert_int_equal(options_default_ringbuf_bytes(2), 4u << 20);
	assert_int_equal(options_default_ringbuf_bytes(16), 4u << 20);
	assert_int_equal(options_default_ringbuf_bytes(24), 6u << 20);
	assert_int_equal(options_default_ringbuf_bytes(64), 16u << 20);
	assert_int_equal(options_default_ringbuf_bytes(256), 64u << 20);
	assert_int_equal(options_default_ringbuf_bytes(8192), 64u << 20);
	/* sysconf() failed: the 4 MiB of a small host. */
	assert_int_equal(options_default_ringbuf_bytes(-1), 4u << 20);
}

/* The defaults a run starts from: the wakeup threshold is an eighth of the ring buffers. */
static void the_wakeup_default_follows_the_ring_buffers(void **state)
{
	struct synscope_config cfg;

	(void)state;
	options_defaults(&cfg);
	assert_true(cfg.ringbuf_bytes >= 4u << 20 && cfg.ringbuf_bytes <= 64u << 20);
	assert_int_equal(cfg.wakeup_bytes, cfg.ringbuf_bytes / 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_default_ring_buffers_grow_with_the_cpus),
		cmocka_unit_test(the_wakeup_default_follows_the_ring_buffers),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
