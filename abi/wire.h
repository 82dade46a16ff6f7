/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Numbers the protocols put on the wire, for the hooks, the daemon and the
 * tests alike. Host byte order; the hooks compare with bpf_htons().
 */
#ifndef VPNPT_ABI_WIRE_H
#define VPNPT_ABI_WIRE_H

#define PORT_PPTP 1723 /* PPTP control, TCP (RFC 2637) */
#define PORT_IKE 500   /* IKE, UDP (RFC 7296) */
#define PORT_NATT 4500 /* IKE and ESP behind NAT, UDP (RFC 3947, 3948) */
#define PORT_L2TP 1701 /* L2TPv2, UDP (RFC 2661) */

/* Bytes 4..7 of every PPTP control message (RFC 2637, 2.1). */
#define VPNPT_PPTP_MAGIC 0x1A2B3C4Du
/* Its byte @i (0..3) in wire order: compared byte by byte where the
 * message header is read piecewise. */
#define VPNPT_PPTP_MAGIC_BYTE(i) ((unsigned char)(VPNPT_PPTP_MAGIC >> (24 - 8 * (i))))

#endif /* VPNPT_ABI_WIRE_H */
