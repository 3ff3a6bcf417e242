/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * synscope demo lost-ack: drops the third ACK of each handshake to a port,
 * with a tc BPF filter (bpf/lost_ack.bpf.c) on the egress of the calling
 * thread's loopback (the demo's private namespace).
 */
#ifndef SYNSCOPE_LOST_ACK_H
#define SYNSCOPE_LOST_ACK_H

struct lost_ack;

/*
 * Attaches the filter for handshakes to `port`. Returns NULL after printing
 * why (the kernel lacks the clsact qdisc or cls_bpf, or refused the program).
 */
struct lost_ack *lost_ack_attach(unsigned short port);
/* Third ACKs dropped so far, or -1 if unknown. */
long long lost_ack_drops(const struct lost_ack *la);
/* Detaches and frees (NULL is fine). */
void lost_ack_detach(struct lost_ack *la);

#endif
