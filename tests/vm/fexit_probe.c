// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fexit-probe: which accept path should synscope get on this kernel? Asks
 * the kernel directly, without synscope's loader: loads a two-instruction
 * fexit program on inet_csk_accept (vmlinux BTF) and attaches it.
 *
 * Prints "fexit" when both succeed, else "syscall" (the accept/accept4
 * tracepoints synscope falls back to), with the kernel's reason on stderr.
 * Exit status 0 either way; 1 if it cannot ask (no vmlinux BTF, not root).
 * tests/vm/run.sh uses it for the expectation of the host checks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

int main(void)
{
	const struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int id, prog, link;

	if (!vmlinux) {
		fprintf(stderr, "fexit-probe: no vmlinux BTF: %s\n", strerror(errno));
		return 1;
	}
	id = btf__find_by_name_kind(vmlinux, "inet_csk_accept", BTF_KIND_FUNC);
	btf__free(vmlinux);
	if (id < 0) {
		fprintf(stderr, "fexit-probe: inet_csk_accept not in vmlinux BTF\n");
		puts("syscall");
		return 0;
	}
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT,
		    .attach_btf_id = id);
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "fexit_probe", "GPL", insns, 2, &opts);
	if (prog < 0) {
		if (errno == EPERM && geteuid() != 0) {
			fprintf(stderr, "fexit-probe: run as root\n");
			return 1;
		}
		fprintf(stderr, "fexit-probe: load refused: %s\n", strerror(errno));
		puts("syscall");
		return 0;
	}
	link = bpf_link_create(prog, 0, BPF_TRACE_FEXIT, NULL);
	if (link < 0) {
		fprintf(stderr, "fexit-probe: attach refused: %s\n", strerror(errno));
		puts("syscall");
	} else {
		puts("fexit");
		close(link);
	}
	close(prog);
	return 0;
}
