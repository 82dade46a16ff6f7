/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The interface map on its own: maps.h gives it to every hook, and
 * trace_undelivered.bpf.c, which must not create the other maps, uses it
 * alone to tell vpnpt's interfaces from the rest.
 */
#ifndef VPNPT_BPF_IFACES_MAP_H
#define VPNPT_BPF_IFACES_MAP_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "abi/vpnpt_abi.h"

/* Interfaces vpnpt is attached to, by ifindex. Written by the loader only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VPNPT_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct vpnpt_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vpnpt_ifaces_v2 SEC(".maps");

#endif
