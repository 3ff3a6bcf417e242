// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Finds the kernel's recursion counters of the primaries (recursion.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "synscope.h" /* before the skeleton, which uses its types */
#include "synscope.skel.h"
#include "recursion.h"

/* The kernel's id of a loaded program; 0 if it is not loaded. */
static __u32 prog_id(const struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_program__fd(prog);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/*
 * The fallbacks read the counter as one int per CPU: struct bpf_prog.active
 * from 6.2, when tp_btf programs got it, to at least 6.18. A kernel that
 * changed it (one count per context, say, so that a program may nest in a
 * softirq) is not asked: -EOPNOTSUPP; -errno if its BTF cannot be read.
 */
static int check_counter_type(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_member *m;
	const struct btf_type *t;
	int id, i, err = -EOPNOTSUPP;

	if (!btf)
		return -errno;
	id = btf__find_by_name_kind(btf, "bpf_prog", BTF_KIND_STRUCT);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (i = 0, m = t ? btf_members(t) : NULL; t && i < btf_vlen(t); i++, m++) {
		if (strcmp(btf__name_by_offset(btf, m->name_off), "active"))
			continue;
		id = btf__resolve_type(btf, m->type);
		t = id > 0 ? btf__type_by_id(btf, id) : NULL;
		if (t && btf_is_ptr(t)) {
			id = btf__resolve_type(btf, t->type);
			t = id > 0 ? btf__type_by_id(btf, id) : NULL;
			if (t && btf_is_int(t) && t->size == sizeof(int))
				err = 0;
		}
		break;
	}
	btf__free(btf);
	return err;
}

/* Runs iterator program prog once to its end (its output is empty). */
static int run_iterator(struct bpf_program *prog)
{
	struct bpf_link *link = bpf_program__attach_iter(prog, NULL);
	char buf[64];
	ssize_t got;
	int fd, err = 0;

	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
	} else {
		while ((got = read(fd, buf, sizeof(buf))) > 0)
			;
		if (got < 0)
			err = -errno;
		close(fd);
	}
	bpf_link__destroy(link);
	return err;
}

int recursion_find_counters(struct synscope_bpf *skel)
{
	const struct bpf_program *primaries[] = {
		[SYNSCOPE_NEST_SET_STATE] = skel->progs.handle_set_state,
		[SYNSCOPE_NEST_DESTROY] = skel->progs.handle_destroy,
		[SYNSCOPE_NEST_RESET] = skel->progs.handle_receive_reset,
	};
	struct bpf_map_info map = {};
	__u32 len = sizeof(map);
	int i, err;

	/* Tests only: as on a kernel whose counters cannot be found (test_losses.py). */
	if (getenv("SYNSCOPE_TEST_NO_RECURSION_COUNTERS"))
		return -ENOENT;
	err = check_counter_type();
	if (err)
		return err;
	for (i = 0; i < SYNSCOPE_NEST_HOOKS; i++)
		skel->bss->primary_prog_id[i] = prog_id(primaries[i]);
	if (bpf_obj_get_info_by_fd(bpf_map__fd(skel->maps.cpu), &map, &len))
		return -errno;
	skel->bss->cpu_map_id = map.id;
	err = run_iterator(skel->progs.find_primaries);
	if (!err)
		err = run_iterator(skel->progs.find_cpu_map);
	if (err)
		return err;
	if (!skel->bss->cpu_pptr)
		return -ENOENT;
	for (i = 0; i < SYNSCOPE_NEST_HOOKS; i++)
		if (skel->bss->primary_prog_id[i] && !skel->bss->primary_active[i])
			return -ENOENT;
	return 0;
}
