// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * synscope demo lost-ack: a tc filter on lo's egress, in the demo's own
 * network namespace, that drops the third ACK of each handshake to one
 * port (the first segment of a flow to that port carrying ACK alone: no
 * SYN, FIN, RST or data). Every later segment passes, the client's data
 * and its answer to a retransmitted SYN-ACK among them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define IPPROTO_TCP 6
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

/* The server port whose handshakes lose their third ACK, host byte order (set before load). */
const volatile __u16 server_port = 0;

/* Client ports whose third ACK was dropped: the next pure ACK passes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
} dropped SEC(".maps");

/* [0]: third ACKs dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

SEC("tc")
int drop_third_ack(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp;
	__u32 zero = 0, ip_len, tcp_len;
	__u16 client;
	__u8 one = 1;
	__u64 *n;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	ip_len = ip->ihl * 4;
	if (ip_len < sizeof(*ip) || ip_len > 60)
		return TC_ACT_OK;
	tcp = (void *)ip + ip_len;
	if ((void *)(tcp + 1) > end || tcp->dest != bpf_htons(server_port))
		return TC_ACT_OK;
	tcp_len = tcp->doff * 4;
	if (!tcp->ack || tcp->syn || tcp->fin || tcp->rst || bpf_ntohs(ip->tot_len) != ip_len + tcp_len)
		return TC_ACT_OK; /* not a bare ACK */
	client = bpf_ntohs(tcp->source);
	if (bpf_map_lookup_elem(&dropped, &client))
		return TC_ACT_OK;
	bpf_map_update_elem(&dropped, &client, &one, BPF_NOEXIST);
	n = bpf_map_lookup_elem(&drops, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
