// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The command line's filters (-p, -P, -4/-6), decided in the kernel.
 */
#ifndef SYNSCOPE_FILTERS_BPF_H
#define SYNSCOPE_FILTERS_BPF_H

static __always_inline bool tgid_allowed(__u32 tgid)
{
	return !filter_tgids || bpf_map_lookup_elem(&traced_tgids, &tgid);
}

static __always_inline bool ports_allowed(__u16 sport, __u16 dport)
{
	__u32 s = sport, d = dport;
	__u8 *hit;

	if (!filter_ports)
		return true;
	hit = bpf_map_lookup_elem(&port_filter, &s);
	if (hit && *hit)
		return true;
	hit = bpf_map_lookup_elem(&port_filter, &d);
	return hit && *hit;
}

static __always_inline bool is_v4mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

static __always_inline bool is_unspecified(const __u8 *a)
{
	const __u64 *w = (const __u64 *)a;

	return w[0] == 0 && w[1] == 0;
}

/* -4 counts IPv4 carried by an IPv6 socket (::ffff:a.b.c.d) as IPv4. */
static __always_inline bool family_allowed(__u16 family, const __u8 *daddr)
{
	if (!filter_family)
		return true;
	if (family == AF_INET6 && is_v4mapped(daddr))
		family = AF_INET;
	return family == filter_family;
}

#endif /* SYNSCOPE_FILTERS_BPF_H */
