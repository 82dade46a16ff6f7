/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-LAN-host quota map on its own: maps.h gives it to every hook, and
 * quota_adjust.bpf.c, which must not create the other maps, uses it alone.
 */
#ifndef VPNPT_BPF_QUOTA_MAP_H
#define VPNPT_BPF_QUOTA_MAP_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "abi/vpnpt_abi.h"

/* How much of the shared session tables each LAN host holds (LRU: losing a
 * count only lets a host start over; the daemon corrects it every second). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VPNPT_HOST_QUOTA_SLOTS);
	__type(key, __be32);
	__type(value, struct vpnpt_host_quota);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_host_quota_v1 SEC(".maps");

#endif
