// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>
#include <bpf/btf.h>
#include "probe.h"

#define CAP_SYS_ADMIN_BIT 21
#define CAP_PERFMON_BIT 38
#define CAP_BPF_BIT 39

int probe_privileges(void)
{
	unsigned long long eff = 0;
	char line[256];
	bool admin, bpf, perfmon;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0; /* cannot tell: let the kernel decide */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	admin = eff & (1ULL << CAP_SYS_ADMIN_BIT);
	bpf = admin || (eff & (1ULL << CAP_BPF_BIT));
	perfmon = admin || (eff & (1ULL << CAP_PERFMON_BIT));
	if (bpf && perfmon)
		return 0;
	fprintf(stderr, "synscope: missing privileges (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN): "
			"run synscope as root, e.g. with sudo\n");
	return -EPERM;
}

int probe_btf(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		return 0;
	fprintf(stderr, "synscope: /sys/kernel/btf/vmlinux: %s: this kernel has no BTF; synscope "
			"needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian's kernels are)\n",
		strerror(errno));
	return -ENOENT;
}

static bool syscall_events_present(void)
{
	return access(TRACEFS_PATH "/events/syscalls/sys_enter_connect/id", R_OK) == 0;
}

int probe_tracefs(bool *mounted)
{
	*mounted = false;
	if (syscall_events_present())
		return 0;
	if (access(TRACEFS_PATH "/events", F_OK) != 0) {
		if (mount("tracefs", TRACEFS_PATH, "tracefs", 0, NULL) != 0) {
			int err = errno;

			fprintf(stderr, "synscope: tracefs is not mounted and mounting it at %s failed: %s;"
					" run 'mount -t tracefs tracefs %s' as root\n",
				TRACEFS_PATH, strerror(err), TRACEFS_PATH);
			return -err;
		}
		*mounted = true;
	}
	if (syscall_events_present())
		return 0;
	fprintf(stderr, "synscope: %s/events/syscalls/sys_enter_connect is missing: this kernel "
			"lacks syscall tracepoints (CONFIG_FTRACE_SYSCALLS=y needed)\n",
		TRACEFS_PATH);
	return -ENOENT;
}

const char *probe_lockdown(void)
{
	static char line[128];
	FILE *f = fopen("/sys/kernel/security/lockdown", "r");
	char *start, *end;

	if (!f)
		return NULL;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	/* "none [integrity] confidentiality": the bracketed mode is active. */
	start = strchr(line, '[');
	end = start ? strchr(start, ']') : NULL;
	if (!end)
		return NULL;
	*end = '\0';
	return start + 1;
}

bool probe_raise_memlock(void)
{
	struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};

	return setrlimit(RLIMIT_MEMLOCK, &r) == 0;
}

bool probe_listen_overflow_reason(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_enum *e;
	const struct btf_type *t;
	bool found = false;
	int id, i;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (i = 0, e = t ? btf_enum(t) : NULL; t && i < btf_vlen(t) && !found; i++, e++)
		found = !strcmp(btf__name_by_offset(btf, e->name_off),
				"SKB_DROP_REASON_TCP_LISTEN_OVERFLOW");
	btf__free(btf);
	return found;
}
