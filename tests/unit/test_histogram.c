// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Percentiles of the exit summary: exact for small values, within 12.5% above. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "histogram.h"

static void empty_is_zero(void **state)
{
	struct histogram h = {0};

	(void)state;
	assert_int_equal(hist_percentile(&h, 50), 0);
}

static void small_values_are_exact(void **state)
{
	struct histogram h = {0};
	unsigned long long v;

	(void)state;
	for (v = 1; v <= 5; v++)
		hist_add(&h, v);
	assert_int_equal(hist_percentile(&h, 50), 3);
	assert_int_equal(hist_percentile(&h, 100), 5);
	assert_int_equal(h.max, 5);
}

static void large_values_within_bound(void **state)
{
	struct histogram h = {0};
	unsigned long long v, p50, p99;

	(void)state;
	for (v = 1; v <= 100000; v++)
		hist_add(&h, v * 10); /* 10 us .. 1 s, uniform */
	p50 = hist_percentile(&h, 50);
	p99 = hist_percentile(&h, 99);
	assert_true(p50 >= 500000 * 0.875 && p50 <= 500000 * 1.125);
	assert_true(p99 >= 990000 * 0.875 && p99 <= 990000 * 1.125);
	assert_int_equal(hist_percentile(&h, 100), 1000000);
	assert_int_equal(h.count, 100000);
}

static void skewed_tail(void **state)
{
	struct histogram h = {0};
	int i;

	(void)state;
	for (i = 0; i < 990; i++)
		hist_add(&h, 100);
	for (i = 0; i < 10; i++)
		hist_add(&h, 2000000);
	assert_true(hist_percentile(&h, 50) >= 88 && hist_percentile(&h, 50) <= 112);
	assert_true(hist_percentile(&h, 99) <= 112);
	assert_true(hist_percentile(&h, 99.5) >= 1750000);
}

static void huge_value_does_not_overflow(void **state)
{
	struct histogram h = {0};

	(void)state;
	hist_add(&h, ~0ULL);
	assert_true(hist_percentile(&h, 50) >= ~0ULL / 8 * 7);
	assert_int_equal(h.max, ~0ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_is_zero),
		cmocka_unit_test(small_values_are_exact),
		cmocka_unit_test(large_values_within_bound),
		cmocka_unit_test(skewed_tail),
		cmocka_unit_test(huge_value_does_not_overflow),
	};

	return cmocka_run_group_tests_name("histogram", tests, NULL, NULL);
}
