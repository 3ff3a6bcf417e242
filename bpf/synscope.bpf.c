// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * synscope kernel side: one record per TCP connection end, built in the
 * kernel from the state tracepoint and the syscalls that made the end.
 *
 *  client:  connect() entry -> SYN_SENT -> ESTABLISHED | CLOSE -> connect() return
 *  server:  child in SYN_RECV -> ESTABLISHED -> accept() return | CLOSE
 *
 * A handshake record under construction lives in the handshake table
 * (socks.bpf.h), keyed by the socket's address, until it leaves (or the
 * socket is destroyed); --close
 * state lives in the socket's own storage. The address never leaves the
 * kernel: records carry per-run ids.
 *
 * One object, in parts by concern (included below, in dependency order):
 *   maps.bpf.h       the maps and the loss counters
 *   socks.bpf.h      the handshake table: records under construction
 *   nesting.bpf.h    fallback programs for the runs the kernel skips
 *   filters.bpf.h    -p, -P, -4/-6
 *   sock_read.bpf.h  socket reads (BTF loads, probe reads, fd tables)
 *   metrics.bpf.h    --metrics: records counted in the kernel
 *   records.bpf.h    a record's creation, completion and submission
 *   close.bpf.h      --close paths, and socket destruction
 *   recover.bpf.h    handshakes it never reported, read at connect()/accept()
 *                    return or from a closing listener's accept queue
 *   handshake.bpf.h  the state tracepoint: SYN_SENT .. ESTABLISHED/CLOSE
 *   syscalls.bpf.h   connect(), listen(), the traced process tree
 *   accept.bpf.h     fexit/inet_csk_accept or the accept syscalls
 *
 * Kernel differences, each handled where it arises: tp_btf recursion
 * protection from 6.2 (nesting.bpf.h); the child's remote port set after
 * the state tracepoint before 6.x reordered inet_csk_clone_lock()
 * (on_child_created()); inet_csk_accept()'s prototype change in 6.10 (only
 * its return value is read); fexit refused on some kernels (user space
 * falls back to the syscalls); enum sock_flags values (CO-RE enum reads).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "synscope.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOCK_STREAM 1
#define EINPROGRESS 115
#define EALREADY 114
#define EISCONN 106
#define ECONNREFUSED 111
#define ETIMEDOUT 110
#define EHOSTUNREACH 113
#define ENETUNREACH 101
#define EEXIST 17

/* TCP states: the kernel's own TCP_* enum (include/net/tcp_states.h), from vmlinux.h. */

/* Configuration, set by user space before load. */
const volatile __u16 filter_family = 0; /* 0: any, AF_INET (incl. v4-mapped), AF_INET6 */
const volatile bool filter_ports = false; /* only ends with a local or remote port in port_filter */
const volatile bool filter_tgids = false; /* only ends whose caller's tgid is in traced_tgids */
const volatile bool follow_forks = false; /* children of traced tgids are traced too */
/*
 * Wake user space once a CPU has submitted this many bytes since it last
 * did (0: on every record the consumer has caught up with, the kernel's
 * default). User space sets it to --wakeup-bytes divided by the number of
 * CPUs and also drains on a timer, so nothing waits longer than its poll
 * interval. Counting per CPU replaces bpf_ringbuf_query(), whose read of
 * the producer and consumer positions is a cache line the other CPUs and
 * the reader keep writing.
 */
const volatile __u64 wakeup_bytes_per_cpu = 0;
/* --close: keep each established end until its socket dies and report how it closed. */
const volatile bool track_close = false;
/*
 * make bench's floor (--hooks-only): every program returns at once, so a
 * run measures what the attached hooks cost by themselves. The verifier
 * prunes the test when it is false.
 */
const volatile bool hooks_only = false;
/* --metrics: count every record in the kernel (metrics.bpf.h). */
const volatile bool aggregate = false;
/* Send records to user space; false with --metrics alone: nothing crosses the ring buffer. */
const volatile bool emit_records = true;
/*
 * Tests only (SYNSCOPE_TEST_UNSEEN in the environment, loader.c): the
 * handshake of one socket in this many is ignored (a client's ESTABLISHED,
 * a child's creation), as when the kernel runs no program for it, so that
 * tests reach the recovery at connect()/accept(). 0: off, and the verifier
 * prunes the test.
 */
const volatile __u32 test_unseen_every = 0;
/*
 * Tests only (SYNSCOPE_TEST_UNSEEN_DESTROY): with test_unseen_every, the
 * destruction of a child marked reset unseen is ignored too, and so is a
 * listener's close (no children recovered from its queue), as when the
 * kernel runs no program for them, so that tests reach the stale mark.
 */
const volatile bool test_unseen_destroy = false;

/*
 * Ids: each CPU numbers its ends, id = its count * id_stride + CPU + 1, so
 * ids are unique and small without one counter all CPUs write (a cache
 * line moving between them twice a connection). User space sets the
 * number of possible CPUs.
 */
const volatile __u32 id_stride = 1;

/*
 * Record stamps: CLOCK_MONOTONIC. bpf_ktime_get_boot_ns() also reads the
 * boot offset from the timekeeper's core cache line, written on every tick:
 * 60-80 ns more per read here, at 8 reads per connection. User space adds
 * the boot offset (decode.c).
 */
#define now_ns() bpf_ktime_get_ns()

#include "maps.bpf.h"
#include "socks.bpf.h"
#include "nesting.bpf.h"
#include "filters.bpf.h"
#include "sock_read.bpf.h"
#include "metrics.bpf.h"
#include "records.bpf.h"
#include "close.bpf.h"
#include "recover.bpf.h"
#include "handshake.bpf.h"
#include "syscalls.bpf.h"
#include "accept.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
