// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Counts frames an XDP program on one of vpnpt's interfaces redirected and
 * the kernel then could not hand over (vpnpt_undelivered_v1, abi/vpnpt_abi.h):
 * the redirect failed (the target is down or has no XDP transmit), or the
 * target's XDP transmit dropped them (a veth whose peer has neither GRO nor
 * an XDP program). XDP_REDIRECT is the program's last word; only these
 * tracepoints see what became of the frame. The daemon attaches them; BTF
 * tracepoints need no tracefs, and CO-RE finds the ifindex in any kernel's
 * struct net_device.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpf/lib/ifaces_map.h"

struct net_device {
	int ifindex;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VPNPT_UNDELIVERED_SLOTS);
	__type(key, struct vpnpt_undelivered_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_undelivered_v1 SEC(".maps");

static __always_inline void count(__u32 from, __u32 to, __s32 err, __u32 stage, __u64 frames)
{
	if (!bpf_map_lookup_elem(&vpnpt_ifaces_v2, &from))
		return; /* another program's redirect */
	struct vpnpt_undelivered_key k = {.from_ifindex = from, .to_ifindex = to, .err = err, .stage = stage};
	__u64 *n = bpf_map_lookup_elem(&vpnpt_undelivered_v1, &k);

	if (n) {
		*n += frames; /* this CPU's slot */
		return;
	}
	if (bpf_map_update_elem(&vpnpt_undelivered_v1, &k, &frames, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&vpnpt_undelivered_v1, &k); /* another CPU created it meanwhile */
		if (n)
			*n += frames;
	}
}

/* The devmap flush: the target's ndo_xdp_xmit took @sent frames of a bulk and dropped @drops. */
SEC("tp_btf/xdp_devmap_xmit")
int BPF_PROG(undelivered_xmit, const struct net_device *from_dev, const struct net_device *to_dev, int sent, int drops,
             int err)
{
	(void)ctx;
	(void)sent;
	if (drops > 0)
		count(from_dev->ifindex, to_dev->ifindex, err, VPNPT_UNDELIVERED_XMIT, (__u64)drops);
	return 0;
}

/* xdp_do_redirect() failed; for bpf_redirect() (no map) @index is the target's ifindex. */
SEC("tp_btf/xdp_redirect_err")
int BPF_PROG(undelivered_redirect, const struct net_device *dev, const void *xdp, const void *tgt, int err,
             int map_type, __u32 map_id, __u32 index)
{
	(void)ctx;
	(void)xdp;
	(void)tgt;
	(void)map_id;
	count(dev->ifindex, map_type == BPF_MAP_TYPE_UNSPEC ? index : 0, err, VPNPT_UNDELIVERED_REDIRECT, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
