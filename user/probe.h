/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel feature probes run before loading, each printing what to do when
 * a feature is missing.
 */
#ifndef SYNSCOPE_PROBE_H
#define SYNSCOPE_PROBE_H

#include <stdbool.h>

#define TRACEFS_PATH "/sys/kernel/tracing"

/*
 * 0 if this process holds CAP_BPF (or CAP_SYS_ADMIN, before 5.8) and
 * CAP_PERFMON (or CAP_SYS_ADMIN), read from /proc/self/status; -EPERM with a
 * message otherwise.
 */
int probe_privileges(void);
/* 0 if /sys/kernel/btf/vmlinux is readable, else -ENOENT with a message. */
int probe_btf(void);
/*
 * Makes the syscall tracepoints reachable: mounts tracefs at TRACEFS_PATH if
 * it is not mounted (a fresh boot here has it unmounted; debugfs is refused
 * under lockdown). Sets *mounted when this call mounted it.
 * Returns 0 or -errno with a message.
 */
int probe_tracefs(bool *mounted);
/* "none", "integrity", "confidentiality" or NULL if unknown. */
const char *probe_lockdown(void);
/*
 * Whether the kernel names a third ACK dropped on a full accept queue
 * (enum skb_drop_reason SKB_DROP_REASON_TCP_LISTEN_OVERFLOW, 6.15+, with
 * kfree_skb's rx_sk since 6.11): per-listener overflows need it.
 */
bool probe_listen_overflow_reason(void);
/* Raises RLIMIT_MEMLOCK; failure is normal on memcg-accounted kernels (5.11+). */
bool probe_raise_memlock(void);

#endif
