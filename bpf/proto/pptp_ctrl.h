/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * PPTP control messages (TCP 1723): Call IDs rewritten in the byte stream.
 *
 * The kernel NATs the control connection itself (addresses, ports); vpnpt
 * only rewrites Call ID fields, at XDP ingress on either side, before
 * conntrack sees the packet. Fields never change length, so TCP sequence
 * numbers stay valid; the TCP checksum is updated per rewritten byte.
 *
 * TCP may cut the stream anywhere, so each direction has a tracker
 * (struct vpnpt_pptp_stream) that follows message boundaries by sequence
 * number. Every decided rewrite is kept as a patch (stream position, old,
 * new) and applied to any segment that covers it, which makes
 * retransmissions and re-segmentations come out identical. A patch is kept
 * until the receiver acknowledged its bytes (the other direction's ACKs,
 * accepted only for bytes delivered): a ring of VPNPT_PPTP_PATCHES holds
 * every rewrite in flight, and a segment needing one more is held
 * (pptp_unacked) until an ACK frees a slot. A segment that
 * would carry part of a field whose new value is not known yet (the rest
 * of the header is in a later segment) is dropped and counted as held: TCP
 * resends it, and by then the tracker has learned the missing bytes.
 *
 * Rewrites (RFC 2637; outbound = client/PNS -> server/PAC):
 *   outbound OCRQ  @12 client's Call ID -> translated (allocated)
 *   outbound ICRP  @12 client's Call ID -> translated (allocated); @14 server's id recorded
 *   outbound CCRQ  @12 client's Call ID -> translated
 *   inbound  OCRP  @14 peer Call ID translated -> client's; @12 server's id, @16 result recorded
 *   inbound  ICCN, WEN, SLI @12 peer Call ID translated -> client's
 *   inbound  CDN   @12 is the *server's* id: not rewritten, the call is closed
 *
 * The WAN edge (anyone can send TCP "from" a server's port 1723):
 *   - an inbound segment starts a tracker only for a connection a LAN host
 *     opened (conntrack has it, this segment in the reply direction), and a
 *     SYN-ACK only if it answers that host's SYN (its ACK is the SYN's
 *     sequence + 1); a pure inbound SYN never does;
 *   - FIN and RST end a connection's calls only inside the window: at most
 *     PPTP_WINDOW bytes beyond what the tracker delivered, as the kernel's
 *     own window check would; a SYN never resyncs an inbound tracker.
 * Anything else is passed untouched and counted (pptp_unknown_conn,
 * pptp_out_of_window): the kernel decides about it, the tracker never sees it.
 * See docs/pptp.md.
 */
#ifndef VPNPT_BPF_PPTP_CTRL_H
#define VPNPT_BPF_PPTP_CTRL_H

#include "bpf/lib/classify.h"
#include "bpf/lib/clock.h"
#include "bpf/lib/conntrack.h"
#include "bpf/lib/csum.h"
#include "abi/wire.h"
#include "bpf/proto/gre.h"
#include "bpf/lib/l4csum.h"
#include "bpf/proto/pptp_calls.h"
#include "bpf/lib/stats.h"

#define PPTP_MSG_MIN 16
#define PPTP_MSG_MAX 1024
#define PPTP_WALK_MAX 128 /* messages per segment: 1500 / 16 < 128 */
#define PPTP_WINDOW 65536 /* the largest unscaled TCP window: where a believed FIN or RST may sit */

enum pptp_msg {
	PPTP_SCCRQ = 1,
	PPTP_SCCRP = 2,
	PPTP_STOPCCRQ = 3,
	PPTP_STOPCCRP = 4,
	PPTP_ECHORQ = 5,
	PPTP_ECHORP = 6,
	PPTP_OCRQ = 7,
	PPTP_OCRP = 8,
	PPTP_ICRQ = 9,
	PPTP_ICRP = 10,
	PPTP_ICCN = 11,
	PPTP_CCRQ = 12,
	PPTP_CDN = 13,
	PPTP_WEN = 14,
	PPTP_SLI = 15,
};

static __always_inline int seq_before(__u32 x, __u32 y)
{
	return (__s32)(x - y) < 0;
}

static __always_inline __be16 hdr_be16(const struct vpnpt_pptp_track *st, __u32 off)
{
	if (off > VPNPT_PPTP_HDR_BYTES - 2)
		return 0;
	return (__be16)(st->hdr[off] | (__u16)st->hdr[off + 1] << 8); /* bytes as they sit: network order */
}

/*
 * The state a decision reads and writes. No pointers in here: decide() is a
 * global BPF function, verified once on its own instead of once per path
 * through the walk, and global functions only take pointer-free memory.
 */
struct decide_io {
	struct vpnpt_pptp_track st;    /* working copy, written back after the walk */
	struct vpnpt_pptp_patch patch; /* out: the rewrite decided, if has_patch */
	__u32 has_patch;
	__u32 no_room;           /* the walk stopped at a rewrite the patch ring had no room for */
	struct pptp_ctrl_id cid; /* outbound: the LAN-side connection */
	__u32 dir;
	__be32 saddr; /* sender of this segment */
	__be16 dport; /* inbound: the connection's port on the public IP */
	__u16 pad;
	__u32 ev_id;   /* vpnpt_event.id of the event below */
	__u32 ev_kind; /* event to emit after the walk (one per segment is plenty) */
	__u32 stop;    /* enum vpnpt_reason: end the walk, the segment is held or passed untracked */
	__u32 note;    /* enum vpnpt_reason: counted, the segment is still delivered */
};

/* Everything the walk over one segment needs; lives on the caller's stack. */
struct ctrl_walk {
	struct __ctx_buff *ctx;
	struct vpnpt_pptp_stream *live; /* the map's tracker: its patch ring is written in place */
	__u32 pay_off;                  /* frame offset of the TCP payload */
	__u32 a, b;                     /* the segment covers stream positions [a, b) */
	__u32 pad;
	struct decide_io io;
};

/* Records the rewrite of the current message; the walk puts it in the ring. */
static __always_inline void add_patch(struct decide_io *w, __u32 seq, __be16 old_id, __be16 new_id)
{
	if (old_id == new_id)
		return;
	w->patch.seq = seq;
	w->patch.old_id = old_id;
	w->patch.new_id = new_id;
	w->has_patch = 1;
}

/* 1 if the receiver acknowledged the stream up to @end: TCP never resends those bytes. */
static __always_inline int stream_acked(const struct vpnpt_pptp_stream *live, __u32 end)
{
	return live->ack_known && !seq_before(live->acked, end);
}

/*
 * May the walk decide one more rewrite? Not while every slot of the ring
 * holds a patch whose bytes the receiver has not acknowledged: the segment
 * is held and TCP resends it once an ACK frees a slot. A tracker that has
 * seen no acknowledgement (its other direction untracked) pushes the oldest
 * patch out instead, and holds any later segment reaching its bytes.
 */
static __always_inline int ring_has_room(const struct vpnpt_pptp_stream *live, const struct vpnpt_pptp_track *st)
{
	if (st->patch_next < VPNPT_PPTP_PATCHES || !live->ack_known)
		return 1;
	return stream_acked(live, live->patches[st->patch_next % VPNPT_PPTP_PATCHES].seq + 2);
}

static __always_inline void ring_push(struct vpnpt_pptp_stream *live, struct vpnpt_pptp_track *st,
                                      const struct vpnpt_pptp_patch *pt)
{
	__u32 slot = st->patch_next % VPNPT_PPTP_PATCHES;
	if (st->patch_next >= VPNPT_PPTP_PATCHES) {
		__u32 end = live->patches[slot].seq + 2;
		if (!stream_acked(live, end) && seq_before(st->forgotten_end, end))
			st->forgotten_end = end;
	}
	live->patches[slot] = *pt;
	st->patch_next++;
}

/* 1 if a message of @type in direction @dir may need a rewrite (a patch slot). */
static __always_inline int may_rewrite(__u32 dir, __u16 type)
{
	if (dir == VPNPT_DIR_OUTBOUND)
		return type == PPTP_OCRQ || type == PPTP_ICRP || type == PPTP_CCRQ;
	return type == PPTP_OCRP || type == PPTP_ICCN || type == PPTP_WEN || type == PPTP_SLI;
}

/* Decides the rewrite of the current message, whose header is complete. */
__attribute__((noinline)) int pptp_decide(struct decide_io *w)
{
	if (!w)
		return 0;
	struct vpnpt_pptp_track *st = &w->st;
	__u16 type = (__u16)st->hdr[8] << 8 | st->hdr[9];
	__be16 id = hdr_be16(st, 12);
	__be16 xlat = 0;
	struct vpnpt_pptp_call *call;

	if (type == PPTP_STOPCCRQ || type == PPTP_STOPCCRP) {
		st->flags |= VPNPT_PPTP_STREAM_STOPPED;
		w->ev_kind = VPNPT_EV_PPTP_STOP;
		return 0;
	}

	if (w->dir == VPNPT_DIR_OUTBOUND) {
		switch (type) {
		case PPTP_OCRQ:
		case PPTP_ICRP:
			w->stop = pptp_alloc(&w->cid, id, &xlat);
			if (w->stop)
				return 0;
			if (type == PPTP_ICRP) {
				/* Answering the server's incoming call: its id is known now. */
				call = pptp_call(w->cid.server, xlat);
				if (call)
					w->stop = pptp_establish(call, xlat, hdr_be16(st, 14));
				if (w->stop)
					return 0;
			}
			w->ev_kind = VPNPT_EV_PPTP_CALL;
			w->ev_id = (__u32)bpf_ntohs(id) << 16 | bpf_ntohs(xlat);
			add_patch(w, st->msg_seq + 12, id, xlat);
			return 0;
		case PPTP_CCRQ: {
			if (pptp_find_own(&w->cid, id, &xlat)) {
				add_patch(w, st->msg_seq + 12, id, xlat);
				return 0;
			}
			/* Unknown call: harmless unless the id is another client's toward this server. */
			call = pptp_call(w->cid.server, id);
			if (call && call->client != w->cid.client)
				w->stop = VPNPT_REASON_PPTP_FOREIGN_ID;
			else
				w->note = VPNPT_REASON_PPTP_NO_CALL;
			return 0;
		}
		default:
			return 0;
		}
	}

	/* Inbound: server -> client. */
	__u32 off;
	switch (type) {
	case PPTP_OCRP:
		off = 14;
		break;
	case PPTP_ICCN:
	case PPTP_WEN:
	case PPTP_SLI:
		off = 12;
		break;
	case PPTP_CDN:
		/* @12 is the server's own id; the daemon closes the matching call. */
		w->ev_kind = VPNPT_EV_PPTP_CDN;
		w->ev_id = bpf_ntohs(id);
		return 0;
	default:
		return 0;
	}
	xlat = hdr_be16(st, off);
	call = pptp_call(w->saddr, xlat);
	if (!call || call->state == VPNPT_PPTP_CALL_CLOSING) {
		w->note = VPNPT_REASON_PPTP_NO_CALL;
		return 0;
	}
	/* The connection's port on the public IP, which the server's CDN is matched by: from
	 * its answer (OCRP) to an outgoing call, from its first message naming an incoming one
	 * (ICCN; the client's ICRP went out before the public port could be known here). */
	if (!call->ctrl_public_port || type == PPTP_OCRP)
		call->ctrl_public_port = w->dport;
	if (type == PPTP_OCRP) {
		if (st->hdr[16] == 1) /* result code 1: Connected */
			w->stop = pptp_establish(call, xlat, id);
		else
			pptp_close(call);
		if (w->stop)
			return 0;
	}
	call->last_seen_ns = vpnpt_now_ns();
	add_patch(w, st->msg_seq + off, xlat, call->client_call_id);
	return 0;
}

/*
 * Decides the current message's rewrite and keeps it in @live's patch ring.
 * Returns 1, deciding nothing, if the ring has no room for one more: the
 * walk stops there, and a segment reaching the message is held. A global
 * function like pptp_decide(): inlined into the walk, its branches on the
 * ring multiply the states the verifier explores past its limit.
 */
__attribute__((noinline)) int pptp_decide_kept(struct decide_io *w, struct vpnpt_pptp_stream *live)
{
	if (!w || !live)
		return 0;
	if (may_rewrite(w->dir, (__u16)w->st.hdr[8] << 8 | w->st.hdr[9]) && !ring_has_room(live, &w->st)) {
		w->no_room = 1;
		return 1;
	}
	w->has_patch = 0;
	pptp_decide(w);
	if (w->has_patch)
		ring_push(live, &w->st, &w->patch); /* also when the walk stops: the decision stands */
	return 0;
}

/* Header bytes needed to decide a message of @type (type itself sits at 8..9). */
static __always_inline __u32 bytes_to_decide(__u16 type)
{
	switch (type) {
	case PPTP_OCRP:
		return 17; /* server's id @12, peer id @14, result code @16 */
	case PPTP_ICRP:
		return 16; /* client's id @12, server's id @14 */
	case PPTP_OCRQ:
	case PPTP_CCRQ:
	case PPTP_ICCN:
	case PPTP_CDN:
	case PPTP_WEN:
	case PPTP_SLI:
		return 14;
	default:
		return 10;
	}
}

/* One step of the walk: learn, decide and pass one message. Returns 1 to stop. */
static long walk_step(__u32 i, void *data)
{
	struct ctrl_walk *w = data;
	struct vpnpt_pptp_track *st = &w->io.st;
	(void)i;

	/* Learn as much of the current message's header as this segment holds. */
	if (st->hdr_have < VPNPT_PPTP_HDR_BYTES) {
		__u32 h = st->msg_seq + st->hdr_have;
		if (!seq_before(h, w->a) && seq_before(h, w->b)) {
			__u32 n = VPNPT_PPTP_HDR_BYTES - st->hdr_have;
			if (n > w->b - h)
				n = w->b - h;
			/* Straight into hdr[have..have+n): have + n <= HDR_BYTES by construction. The
			 * masks (kept by the barriers) bound both for the verifier; hdr sits inside w. */
			__u32 have = st->hdr_have;
			barrier_var(have);
			have &= 31;
			if (!n)
				return 1;
			/* 1 + (n - 1), masked: 6.1's verifier keeps 0 as n's lower bound past "!n". */
			__u32 more = n - 1;
			barrier_var(more);
			more &= 31;
			n = more + 1;
			if (ctx_load_bytes(w->ctx, w->pay_off + (h - w->a), (__u8 *)st->hdr + have, n)) {
				w->io.stop = VPNPT_REASON_L4_TRUNC;
				return 1;
			}
			st->hdr_have = have + n;
		}
	}

	if (!st->msg_len && st->hdr_have >= 2) {
		__u16 len = (__u16)st->hdr[0] << 8 | st->hdr[1];
		if (len < PPTP_MSG_MIN || len > PPTP_MSG_MAX) {
			w->io.stop = VPNPT_REASON_PPTP_BAD_MSG;
			return 1;
		}
		st->msg_len = len;
	}
	if (st->msg_len && st->hdr_have > st->msg_len)
		st->hdr_have = st->msg_len; /* what follows belongs to the next message */
	if (st->hdr_have >= 8 && (st->hdr[2] != 0 || st->hdr[3] != 1 || st->hdr[4] != VPNPT_PPTP_MAGIC_BYTE(0) ||
	                          st->hdr[5] != VPNPT_PPTP_MAGIC_BYTE(1) || st->hdr[6] != VPNPT_PPTP_MAGIC_BYTE(2) ||
	                          st->hdr[7] != VPNPT_PPTP_MAGIC_BYTE(3))) {
		w->io.stop = VPNPT_REASON_PPTP_BAD_MSG;
		return 1;
	}

	if (!(st->flags & VPNPT_PPTP_STREAM_DECIDED)) {
		if (st->hdr_have < 10)
			return 1; /* type not known yet */
		__u32 need = bytes_to_decide((__u16)st->hdr[8] << 8 | st->hdr[9]);
		if (need > st->msg_len)
			need = st->msg_len;
		if (st->hdr_have < need)
			return 1; /* the fields continue in a later segment */
		if (!w->live)
			return 1;
		if (pptp_decide_kept(&w->io, w->live))
			return 1;
		if (w->io.stop)
			return 1;
		st->flags |= VPNPT_PPTP_STREAM_DECIDED;
	}

	__u32 end = st->msg_seq + st->msg_len;
	if (seq_before(w->b, end))
		return 1; /* the message continues in a later segment */
	st->msg_seq = end;
	st->msg_len = 0;
	st->hdr_have = 0;
	st->flags &= ~VPNPT_PPTP_STREAM_DECIDED;
	return 0;
}

/*
 * After the walk: may [a, b) be delivered? Not if it reaches bytes whose
 * message context is unknown (a gap before them), carries part of the Call
 * ID fields (12..15) of a message whose rewrite is not decided yet, or
 * reaches unacknowledged bytes whose patch was pushed out of the ring (the
 * receiver discards bytes it acknowledged, so those need none).
 */
static __always_inline enum vpnpt_reason delivery_check(const struct ctrl_walk *w, const struct vpnpt_pptp_stream *live)
{
	const struct vpnpt_pptp_track *st = &w->io.st;

	__u32 from = w->a;
	if (live->ack_known && seq_before(from, live->acked))
		from = live->acked;
	if (seq_before(from, st->forgotten_end) && seq_before(from, w->b))
		return VPNPT_REASON_PPTP_HELD;
	if (st->flags & VPNPT_PPTP_STREAM_DECIDED)
		return VPNPT_REASON_NONE; /* the walk stopped inside a decided message */
	if (seq_before(st->msg_seq + st->hdr_have, w->b))
		return VPNPT_REASON_PPTP_HELD; /* bytes beyond what the tracker knows */
	__u32 field = st->msg_seq + 12;
	if (seq_before(field, w->b) && seq_before(w->a, field + 4))
		return VPNPT_REASON_PPTP_HELD; /* part of an undecided Call ID field */
	return VPNPT_REASON_NONE;
}

/* What pptp_apply_patches() needs of the walk, without pointers (it is a global function). */
struct patch_io {
	__u32 pay_off; /* frame offset of the TCP payload */
	__u32 a, b;    /* the segment covers stream positions [a, b) */
	__u32 count;   /* patches pushed so far (the walk's patch_next) */
	__u32 diff;    /* out: the checksum changes (l4csum.h), folded */
};

/*
 * Applies every remembered patch of @st to the bytes of [a, b). Returns a
 * vpnpt_reason (NONE: all applied). A global function, verified once on
 * its own rather than in each state the walk leaves behind.
 */
__noinline int pptp_apply_patches(struct __ctx_buff *ctx, const struct vpnpt_pptp_stream *st, struct patch_io *io)
{
	if (!ctx || !st || !io)
		return VPNPT_REASON_L4_TRUNC;
	io->diff = 0;
	for (__u32 i = 0; i < VPNPT_PPTP_PATCHES; i++) {
		if (i >= io->count)
			break;
		struct vpnpt_pptp_patch pt = st->patches[i];
		__u8 oldb[2] = {(__u8)pt.old_id, (__u8)(pt.old_id >> 8)};
		__u8 newb[2] = {(__u8)pt.new_id, (__u8)(pt.new_id >> 8)};

		for (__u32 k = 0; k < 2; k++) {
			__u32 pos = pt.seq + k;
			if (seq_before(pos, io->a) || !seq_before(pos, io->b))
				continue;
			__u32 rel = pos - io->a;
			__u8 cur;
			if (rel > 0xffff || ctx_load_bytes(ctx, io->pay_off + rel, &cur, 1))
				return VPNPT_REASON_L4_TRUNC;
			if (cur != oldb[k])
				return VPNPT_REASON_PPTP_HELD; /* not the bytes we decided on: never guess */
			if (ctx_store_byte(ctx, io->pay_off + rel, newb[k]))
				return VPNPT_REASON_L4_TRUNC;
			/* The TCP header is a multiple of 4 bytes, so the parity of rel is the parity in
			 * the segment; a byte at an even offset is the high half of its word. */
			__u32 sh = ((rel & 1) ^ 1) << 3;
			io->diff = csum_fold(io->diff + csum_diff_word((__u16)((__u32)oldb[k] << sh),
			                                               (__u16)((__u32)newb[k] << sh)));
		}
	}
	return VPNPT_REASON_NONE;
}

/* True if the @len payload bytes at @pay_off start with a PPTP control message header. */
static __always_inline int starts_with_pptp(struct __ctx_buff *ctx, __u32 pay_off, __u32 len)
{
	__u8 h[8];

	if (len < 8 || ctx_load_bytes(ctx, pay_off, h, 8))
		return 0;
	return h[2] == 0 && h[3] == 1 && h[4] == VPNPT_PPTP_MAGIC_BYTE(0) && h[5] == VPNPT_PPTP_MAGIC_BYTE(1) &&
	       h[6] == VPNPT_PPTP_MAGIC_BYTE(2) && h[7] == VPNPT_PPTP_MAGIC_BYTE(3);
}

/* 1 if stream position @pos is in [next_seq, next_seq + PPTP_WINDOW): where a real FIN or RST of this direction sits. */
static __always_inline int stream_in_window(const struct vpnpt_pptp_stream *st, __u32 pos)
{
	return pos - st->t.next_seq < PPTP_WINDOW;
}

/*
 * The LAN side of the connection an inbound segment (server:1723 -> public
 * IP) belongs to, as conntrack's masquerade recorded it: client, client port,
 * server, 1723. Returns 0, or -1 if no LAN host opened such a connection.
 */
static __always_inline int inbound_lan_key(struct __ctx_buff *ctx, const struct iphdr *ip, const struct tcphdr *th,
                                           struct vpnpt_pptp_stream_key *lan)
{
	struct ct_origin o;

	if (ct_tcp_origin(ctx, ip->saddr, ip->daddr, th->source, th->dest, &o))
		return -1;
	lan->saddr = o.saddr;
	lan->daddr = o.daddr;
	lan->sport = o.sport;
	lan->dport = o.dport;
	return 0;
}

/*
 * May this inbound SYN (-ACK) sync the WAN side's tracker? Only a SYN-ACK
 * answering the SYN of a LAN connection conntrack maps it to, whose tracker
 * is still opening: the ACK number must be that SYN's sequence + 1. Fills
 * @lan, the LAN side's key.
 */
static __always_inline enum vpnpt_reason inbound_syn_check(struct __ctx_buff *ctx, const struct iphdr *ip,
                                                           const struct tcphdr *th, struct vpnpt_pptp_stream_key *lan)
{
	if (inbound_lan_key(ctx, ip, th, lan))
		return VPNPT_REASON_PPTP_UNKNOWN_CONN;
	const struct vpnpt_pptp_stream *up = bpf_map_lookup_elem(&vpnpt_pptp_streams_v2, lan);
	if (!th->ack || !up || !(up->t.flags & VPNPT_PPTP_STREAM_OPENING) || bpf_ntohl(th->ack_seq) != up->t.next_seq)
		return VPNPT_REASON_PPTP_OUT_OF_WINDOW;
	return VPNPT_REASON_NONE;
}

static __always_inline void track_sync_at(struct vpnpt_pptp_track *t, __u32 seq)
{
	__builtin_memset(t, 0, sizeof(*t));
	t->next_seq = seq;
	t->msg_seq = seq;
	t->forgotten_end = seq;
	t->flags = VPNPT_PPTP_STREAM_SYNCED;
}

/* Per-CPU room to build a new tracker in: with its patch ring it is too big for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vpnpt_pptp_stream);
} vpnpt_scratch_stream SEC(".maps");

/* A new tracker synced at @seq, in scratch (its patch slots are left as they are: none is in use). */
static __always_inline struct vpnpt_pptp_stream *stream_new(__u32 seq, __u64 now)
{
	__u32 zero = 0;
	struct vpnpt_pptp_stream *s = bpf_map_lookup_elem(&vpnpt_scratch_stream, &zero);

	if (!s)
		return NULL;
	__builtin_memset(s, 0, __builtin_offsetof(struct vpnpt_pptp_stream, patches));
	track_sync_at(&s->t, seq);
	s->acked = seq;
	s->last_seen_ns = now;
	return s;
}

/* The WAN side's tracker learned its LAN side @lan: link both ways (the LAN side learns the public port). */
static __always_inline void link_wan_to_lan(struct vpnpt_pptp_stream *wan, const struct vpnpt_pptp_stream_key *lan,
                                            __be16 public_port)
{
	wan->peer_client = lan->saddr;
	wan->peer_client_port = lan->sport;
	struct vpnpt_pptp_stream *up = bpf_map_lookup_elem(&vpnpt_pptp_streams_v2, lan);
	if (up && up->peer_port != public_port)
		up->peer_port = public_port;
}

/*
 * A segment's ACK number says how much of the other direction's stream its
 * receiver has: that tracker may reuse the patch slots below it. Accepted
 * only between the last one and what vpnpt delivered, as an ACK of data
 * never sent is one the kernel would not take either. An inbound segment
 * also refreshes the LAN side's link to the public port.
 */
static __always_inline void pptp_note_ack(struct vpnpt_pptp_stream *live, const struct iphdr *ip,
                                          const struct tcphdr *th, __u32 dir, const struct vpnpt_config *cfg)
{
	struct vpnpt_pptp_stream_key k;

	if (!th->ack)
		return;
	if (dir == VPNPT_DIR_OUTBOUND) {
		if (!live->peer_port)
			return;
		k.saddr = ip->daddr;
		k.daddr = cfg->public_ip;
		k.sport = th->dest;
		k.dport = live->peer_port;
	} else {
		if (!live->peer_client)
			return;
		k.saddr = live->peer_client;
		k.daddr = ip->saddr;
		k.sport = live->peer_client_port;
		k.dport = th->source;
	}
	struct vpnpt_pptp_stream *other = bpf_map_lookup_elem(&vpnpt_pptp_streams_v2, &k);
	if (!other)
		return;
	if (dir == VPNPT_DIR_INBOUND && other->peer_port != th->dest)
		other->peer_port = th->dest;
	__u32 ack = bpf_ntohl(th->ack_seq);
	if (!seq_before(ack, other->acked) && !seq_before(other->t.next_seq, ack)) {
		other->acked = ack;
		other->ack_known = 1;
	}
}

/*
 * A new connection (SYN from the client, SYN-ACK from the server): a fresh
 * stream at seq + 1 under @key. A connection vpnpt cannot track is refused,
 * as its calls could not be translated.
 */
static __always_inline struct xlat_result stream_open(struct __ctx_buff *ctx, const struct iphdr *ip,
                                                      const struct tcphdr *th,
                                                      const struct vpnpt_pptp_stream_key *key, __u32 dir, __u64 now)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	struct vpnpt_pptp_stream_key lan = {};

	if (dir == VPNPT_DIR_INBOUND) {
		r.reason = inbound_syn_check(ctx, ip, th, &lan);
		if (r.reason)
			return r;
	}
	struct vpnpt_pptp_stream *fresh = stream_new(bpf_ntohl(th->seq) + 1, now);
	if (!fresh) {
		r.action = CTX_DROP;
		r.reason = VPNPT_REASON_PPTP_STREAM_FULL;
		return r;
	}
	if (dir == VPNPT_DIR_OUTBOUND) {
		fresh->t.flags |= VPNPT_PPTP_STREAM_OPENING;
		fresh->client = ip->saddr;
		fresh->client_port = th->source;
		/* A new connection (not a retransmitted SYN) counts toward the host's share. */
		if (!bpf_map_lookup_elem(&vpnpt_pptp_streams_v2, key) && !quota_take(ip->saddr, QUOTA_STREAMS)) {
			r.action = CTX_DROP;
			r.reason = VPNPT_REASON_PPTP_HOST_QUOTA;
			return r;
		}
	} else {
		link_wan_to_lan(fresh, &lan, th->dest);
	}
	if (bpf_map_update_elem(&vpnpt_pptp_streams_v2, key, fresh, BPF_ANY)) {
		r.action = CTX_DROP;
		r.reason = VPNPT_REASON_PPTP_STREAM_FULL;
	}
	return r;
}

/*
 * A connection older than vpnpt (or reaped): tracked from this segment on
 * if its payload starts a PPTP message. NULL when it is not tracked, with
 * the reason in @r.
 */
static __always_inline struct vpnpt_pptp_stream *stream_adopt(struct __ctx_buff *ctx, const struct iphdr *ip,
                                                              const struct tcphdr *th,
                                                              const struct vpnpt_pptp_stream_key *key, __u32 dir,
                                                              __u32 pay_off, __u32 pay_len, struct xlat_result *r)
{
	struct vpnpt_pptp_stream_key lan = {};

	if (!starts_with_pptp(ctx, pay_off, pay_len)) {
		r->reason = VPNPT_REASON_PPTP_BAD_MSG;
		return NULL;
	}
	if (dir == VPNPT_DIR_INBOUND && inbound_lan_key(ctx, ip, th, &lan)) {
		r->reason = VPNPT_REASON_PPTP_UNKNOWN_CONN;
		return NULL;
	}
	struct vpnpt_pptp_stream *fresh = stream_new(bpf_ntohl(th->seq), 0);
	if (!fresh)
		return NULL;
	if (dir == VPNPT_DIR_OUTBOUND) {
		fresh->client = ip->saddr;
		fresh->client_port = th->source;
	} else {
		link_wan_to_lan(fresh, &lan, th->dest);
	}
	if (bpf_map_update_elem(&vpnpt_pptp_streams_v2, key, fresh, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&vpnpt_pptp_streams_v2, key)) {
		r->action = CTX_DROP;
		r->reason = VPNPT_REASON_PPTP_STREAM_FULL;
		return NULL;
	}
	return bpf_map_lookup_elem(&vpnpt_pptp_streams_v2, key);
}

/*
 * One segment of a synced stream, as the walk needs it: three words, as a
 * global function takes scalars (a struct would sit in the caller's frame,
 * and the call chain of 6.1 has 512 bytes of stack in all).
 */
static __always_inline __u64 seg_pos(__u32 seq, __u32 pay_off, __u32 pay_len)
{
	return (__u64)seq | (__u64)(pay_off & 0xffff) << 32 | (__u64)(pay_len & 0xffff) << 48;
}

static __always_inline __u64 seg_addrs(__be32 saddr, __be32 daddr)
{
	return (__u64)saddr | (__u64)daddr << 32;
}

static __always_inline __u64 seg_ports(__be16 sport, __be16 dport, __u32 dir)
{
	return (__u64)sport | (__u64)dport << 16 | (__u64)dir << 32;
}

/*
 * Walks a segment of @live's stream: learns each message's header, decides
 * each message's Call IDs and rewrites them, or holds the whole segment
 * back (TCP resends it). Returns a packed xlat_result (bit 31: rewritten)
 * and, in the high word, the TCP checksum change of the rewritten bytes. A global function, verified once on
 * its own: inlined, the states every path to it (SYN, adoption, FIN/RST,
 * sync) leaves behind multiplied with the walk's own.
 */
__noinline __u64 pptp_ctrl_walk(struct __ctx_buff *ctx, struct vpnpt_pptp_stream *live, __u64 pos, __u64 addrs,
                               __u64 ports)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	__u32 applied = 0;
	__u32 seq = (__u32)pos, pay_off = (pos >> 32) & 0xffff, pay_len = pos >> 48;
	__be32 saddr = (__be32)addrs, daddr = (__be32)(addrs >> 32);
	__be16 sport = (__be16)ports, dport = (__be16)(ports >> 16);
	__u32 dir = (__u32)(ports >> 32);
	__u32 csum_diff = 0;

	if (!ctx || !live)
		return xlat_pack(r);
	struct ctrl_walk w = {
	        .ctx = ctx,
	        .live = live,
	        .pay_off = pay_off,
	        .a = seq,
	        .b = seq + pay_len,
	        .io =
	                {
	                        .dir = dir,
	                        .cid = {.client = saddr,
	                                .server = daddr,
	                                .client_port = sport,
	                                .lan_ifindex = ctx->ingress_ifindex},
	                        .saddr = saddr,
	                        .dport = dport,
	                },
	};
	__builtin_memcpy(&w.io.st, &live->t, sizeof(w.io.st));

	bpf_loop(PPTP_WALK_MAX, walk_step, &w, 0);

	enum vpnpt_reason held = VPNPT_REASON_NONE;
	if (w.io.stop == VPNPT_REASON_PPTP_BAD_MSG) {
		/* Not PPTP after all: stop tracking, deliver what was decided so far. */
		w.io.st.flags &= ~VPNPT_PPTP_STREAM_SYNCED;
		r.reason = w.io.stop;
	} else if (w.io.stop) {
		held = w.io.stop;
	} else {
		held = delivery_check(&w, live);
		if (held == VPNPT_REASON_PPTP_HELD && w.io.no_room)
			held = VPNPT_REASON_PPTP_UNACKED;
	}
	if (!held) {
		struct patch_io pio = {.pay_off = pay_off, .a = w.a, .b = w.b, .count = w.io.st.patch_next};
		held = pptp_apply_patches(ctx, live, &pio);
		csum_diff = pio.diff;
		/* Each patched byte adds a term of ~old + new for a byte-wide word, never 0 or -0
		 * on its own; only patches that cancel out exactly could look like none. */
		applied = pio.diff != 0 && pio.diff != 0xffff;
	}
	if (held) {
		/* Keep what was learned (header bytes, decisions), deliver nothing: TCP resends. */
		__builtin_memcpy(&live->t, &w.io.st, sizeof(w.io.st));
		r.action = CTX_DROP;
		r.reason = held;
		emit_event(VPNPT_EV_DROP, held, dir, ctx->ingress_ifindex, saddr, daddr, sport, dport, 0);
		return xlat_pack(r);
	}
	if (seq_before(w.io.st.next_seq, w.b))
		w.io.st.next_seq = w.b;
	w.io.st.flags &= ~VPNPT_PPTP_STREAM_OPENING; /* the client spoke: a SYN-ACK now would be stale */
	__builtin_memcpy(&live->t, &w.io.st, sizeof(w.io.st));
	if (!r.reason)
		r.reason = w.io.note;
	if (w.io.ev_kind)
		emit_event(w.io.ev_kind, 0, dir, ctx->ingress_ifindex, saddr, daddr, sport, dport, w.io.ev_id);
	return xlat_pack(r) | (applied ? 1u << 31 : 0) | (__u64)csum_diff << 32;
}

/*
 * A TCP segment of a PPTP control connection, outbound at the LAN hook
 * (client -> server port 1723), inbound at the WAN hook (server port 1723 ->
 * public IP): its stream, tracked, opened (SYN) or adopted, with its FIN,
 * RST and acknowledgement noted. NULL when the segment needs no walk; @r
 * then says what to do with it. A subprogram of its own, so that its frame
 * is not on the walk's call chain (6.1: 512 bytes of stack for the chain).
 */
static __noinline struct vpnpt_pptp_stream *pptp_ctrl_stream(struct __ctx_buff *ctx, struct pkt *p,
                                                             const struct vpnpt_config *cfg, __u32 dir,
                                                             struct xlat_result *r)
{
	struct tcphdr *th = p->l4;
	struct iphdr *ip = p->ip;

	if (!th)
		return NULL; /* later fragment: no TCP header */
	if (dir == VPNPT_DIR_OUTBOUND ? th->dest != bpf_htons(PORT_PPTP)
	                              : (th->source != bpf_htons(PORT_PPTP) || ip->daddr != cfg->public_ip))
		return NULL; /* e.g. a PPTP server on the LAN: not a passthrough */
	if (switched_off(cfg, VPNPT_SW_PPTP)) {
		r->reason = VPNPT_REASON_PPTP_OFF;
		return NULL;
	}
	if (p->fragmented)
		return NULL;

	__u32 ihl = ip->ihl * 4, doff = th->doff * 4;
	if (doff < sizeof(*th) || ihl + doff > p->ip_len) {
		r->reason = VPNPT_REASON_L4_TRUNC;
		return NULL;
	}
	__u32 pay_off = p->l3_off + ihl + doff;
	__u32 pay_len = p->ip_len - ihl - doff;
	__u32 seq = bpf_ntohl(th->seq);
	__u64 now = vpnpt_now_ns();
	struct vpnpt_pptp_stream_key key = {
	        .saddr = ip->saddr, .daddr = ip->daddr, .sport = th->source, .dport = th->dest};

	if (th->syn) {
		*r = stream_open(ctx, ip, th, &key, dir, now);
		return NULL;
	}
	struct vpnpt_pptp_stream *live = bpf_map_lookup_elem(&vpnpt_pptp_streams_v2, &key);
	if (!live) {
		if (!pay_len)
			return NULL;
		live = stream_adopt(ctx, ip, th, &key, dir, pay_off, pay_len, r);
		if (!live)
			return NULL;
	}

	if (th->fin || th->rst) {
		/* A RST sits at its own sequence number, a FIN after its data. */
		if (!stream_in_window(live, th->rst ? seq : seq + pay_len)) {
			r->reason = VPNPT_REASON_PPTP_OUT_OF_WINDOW;
			return NULL;
		}
		live->t.flags |= VPNPT_PPTP_STREAM_FIN;
	}
	live->last_seen_ns = now;
	pptp_note_ack(live, ip, th, dir, cfg);
	if (!pay_len)
		return NULL;
	if (!(live->t.flags & VPNPT_PPTP_STREAM_SYNCED)) {
		if (!starts_with_pptp(ctx, pay_off, pay_len)) {
			r->reason = VPNPT_REASON_PPTP_BAD_MSG;
			return NULL;
		}
		__u32 keep = live->t.flags & VPNPT_PPTP_STREAM_FIN;
		track_sync_at(&live->t, seq);
		live->t.flags |= keep;
	}
	return live;
}

/*
 * A PPTP control segment: its stream, then the walk of its payload, which
 * rewrites Call IDs or holds the segment. Returns a packed xlat_result,
 * bit 31 set if bytes were rewritten.
 */
static __always_inline __u32 pptp_ctrl_step(struct __ctx_buff *ctx, struct pkt *p, const struct vpnpt_config *cfg,
                                            __u32 dir)
{
	struct xlat_result r = {CTX_PASS, VPNPT_REASON_NONE};
	struct vpnpt_pptp_stream *live = pptp_ctrl_stream(ctx, p, cfg, dir, &r);
	struct tcphdr *th = p->l4;
	struct iphdr *ip = p->ip;

	if (!live || !th)
		return xlat_pack(r);
	__u32 ihl = ip->ihl * 4, doff = th->doff * 4;
	__u32 pay_off = p->l3_off + ihl + doff;
	__u32 pay_len = p->ip_len - ihl - doff;
	__u64 v = pptp_ctrl_walk(ctx, live, seg_pos(bpf_ntohl(th->seq), pay_off, pay_len),
	                         seg_addrs(ip->saddr, ip->daddr), seg_ports(th->source, th->dest, dir));
	__u32 rewritten = ((__u32)v >> 31) & 1;

	if (rewritten)
		l4_csum_add(ctx, p, &th->check, L4_TCP, (__u32)(v >> 32), L4_CSUM_DATA);
	return (__u32)v;
}

#endif
