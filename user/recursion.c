// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Finds the kernel's recursion counters of the primaries (recursion.h). */
#include <errno.h>
#include <unistd.h>
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
