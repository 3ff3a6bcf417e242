// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The lost-ack demo's filter: a tc BPF program on lo's egress (libbpf's bpf_tc_* API). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lost_ack.skel.h"
#include "lost_ack.h"

struct lost_ack {
	struct lost_ack_bpf *skel;
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;
	bool hook_created;
};

static struct lost_ack *fail(struct lost_ack *la, const char *what, int err)
{
	fprintf(stderr, "synscope: lost-ack needs a tc BPF filter on lo (the clsact qdisc and "
			"cls_bpf, CONFIG_NET_SCH_INGRESS and CONFIG_NET_CLS_BPF): %s failed: %s\n",
		what, strerror(-err));
	lost_ack_detach(la);
	return NULL;
}

struct lost_ack *lost_ack_attach(unsigned short port)
{
	struct lost_ack *la = calloc(1, sizeof(*la));
	int err;

	if (!la)
		return fail(la, "allocation", -ENOMEM);
	la->skel = lost_ack_bpf__open();
	if (!la->skel)
		return fail(la, "opening the program", -errno);
	la->skel->rodata->server_port = port;
	err = lost_ack_bpf__load(la->skel);
	if (err)
		return fail(la, "loading the program", err);
	la->hook.sz = sizeof(la->hook);
	la->hook.ifindex = if_nametoindex("lo");
	la->hook.attach_point = BPF_TC_EGRESS;
	err = bpf_tc_hook_create(&la->hook);
	if (err && err != -EEXIST)
		return fail(la, "creating the clsact qdisc", err);
	la->hook_created = !err;
	la->opts.sz = sizeof(la->opts);
	la->opts.prog_fd = bpf_program__fd(la->skel->progs.drop_third_ack);
	err = bpf_tc_attach(&la->hook, &la->opts);
	if (err)
		return fail(la, "attaching the filter", err);
	return la;
}

long long lost_ack_drops(const struct lost_ack *la)
{
	__u32 zero = 0;
	__u64 n;

	if (!la || bpf_map__lookup_elem(la->skel->maps.drops, &zero, sizeof(zero), &n, sizeof(n), 0))
		return -1;
	return (long long)n;
}

void lost_ack_detach(struct lost_ack *la)
{
	if (!la)
		return;
	if (la->opts.prog_id) {
		la->opts.prog_fd = la->opts.prog_id = 0;
		la->opts.flags = 0;
		bpf_tc_detach(&la->hook, &la->opts);
	}
	if (la->hook_created)
		bpf_tc_hook_destroy(&la->hook);
	lost_ack_bpf__destroy(la->skel);
	free(la);
}
