/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Includes every vpnpt BPF file needs, in the order the UAPI headers expect. */
#ifndef VPNPT_BPF_COMMON_H
#define VPNPT_BPF_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/errno.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "abi/vpnpt_abi.h"

#ifndef AF_INET
#define AF_INET 2 /* bpf_fib_lookup and bpf_redirect_neigh family; no libc headers in BPF */
#endif

/* Makes clang forget what it knows about @var, so bounds checks it would
 * call redundant are emitted for the verifier. */
#ifndef barrier_var
#define barrier_var(var) asm volatile("" : "+r"(var))
#endif

/* Keeps @var (a register) known to be below 65536 for verifiers that lose
 * that after a byte swap: Debian's 6.1 and 6.12 treat the result of
 * bpf_ntohs() as unbounded and refuse packet pointer math with it (6.18 does
 * not); clang drops a plain mask as redundant, so it is written in asm. */
#define bound16(var) asm volatile("%0 &= 0xffff" : "+r"(var))

/* The hook's context shim: a TC hook file includes ctx/skb.h first; everything else is XDP. */
#ifndef VPNPT_BPF_CTX_H
#include "bpf/ctx/xdp.h"
#endif

#endif
