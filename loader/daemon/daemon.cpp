#include "loader/core/log_subject.h"
#include "loader/daemon/daemon.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <memory>
#include <optional>

#include "abi/vpnpt_abi.h"
#include "loader/core/clock.h"
#include "loader/daemon/diag_ring.h"
#include "loader/core/fd.h"
#include "loader/proto/l2tp/frame_sender.h"
#include "loader/daemon/host_quota.h"
#include "loader/daemon/ike_table_guard.h"
#include "loader/daemon/jobs.h"
#include "loader/proto/ipsec/ike.h"
#include "loader/dataplane/kernel_helpers.h"
#include "loader/dataplane/link_caps.h"
#include "loader/daemon/metrics.h"
#include "loader/core/names.h"
#include "loader/dataplane/neigh.h"
#include "loader/core/netif.h"
#include "loader/dataplane/nfqueue.h"
#include "loader/dataplane/path_attach.h"
#include "loader/core/protocols.h"
#include "loader/daemon/sd_notify.h"
#include "loader/daemon/slowpath_counters.h"
#include "loader/dataplane/undelivered.h"

namespace vpnpt {
namespace {

// The daemon loop's timer: the period every job in the jobs table is a multiple of.
constexpr std::chrono::milliseconds kTick{100};

struct Ctx {
  Attached& att;
  DiagRing& diag;
  SlowPathCounters& slow;
  PptpSlowPath pptp;
  IpsecSlowPath ipsec;
  L2tpSlowPath l2tp;
  const DaemonOptions& opts;
  uint32_t flushed_off = 0;  // protocols off (or deferred) whose sessions this daemon has flushed
};

vpnpt_diag_entry diag_entry(uint32_t kind, uint32_t reason, uint32_t host, uint32_t server, uint32_t id);

// A packet the data plane reported, as a diagnosis entry. Outbound packets
// name their LAN host; inbound ones are addressed to the public IP, so the
// host is not known from the header (0) and the far end is the sender.
vpnpt_diag_entry packet_entry(const vpnpt_event& ev) {
  bool out = ev.dir == VPNPT_DIR_OUTBOUND;
  auto d = diag_entry(VPNPT_DIAG_PACKET, ev.reason, out ? ev.saddr : 0, out ? ev.daddr : ev.saddr, 0);
  d.dir = ev.dir;
  d.other_host = ev.daddr;
  return d;
}

vpnpt_diag_entry diag_entry(uint32_t kind, uint32_t reason, uint32_t host, uint32_t server, uint32_t id) {
  vpnpt_diag_entry d{};
  d.kind = kind;
  d.reason = reason;
  d.host = host;
  d.server = server;
  d.id = id;
  return d;
}

bool switched_on(Ctx& c, uint32_t bit) {
  auto cfg = c.att.maps.config();
  return cfg && (cfg->switches & bit) && !(cfg->deferred & bit);
}

int on_event(void* ctx, void* data, size_t size) {
  auto* c = static_cast<Ctx*>(ctx);
  if (size < sizeof(vpnpt_event)) return 0;
  const auto* ev = static_cast<const vpnpt_event*>(data);
  switch (ev->kind) {
    case VPNPT_EV_MALFORMED: {
      spdlog::debug("malformed {} packet on {} ({} -> {}): {}", dir_name(ev->dir), ifname_of(ev->ifindex),
                    format_ipv4(ev->saddr), format_ipv4(ev->daddr), reason_text(ev->reason));
      c->diag.record(packet_entry(*ev));
      break;
    }
    case VPNPT_EV_PPTP_CALL:
      log_about({ev->saddr, ev->daddr, "pptp"}, spdlog::level::info,
                "PPTP call set up: {} Call ID {} -> {}, seen by the server as Call ID {}", format_ipv4(ev->saddr),
                ev->id >> 16, format_ipv4(ev->daddr), ev->id & 0xffff);
      c->diag.record(diag_entry(VPNPT_DIAG_PPTP_CALL, 0, ev->saddr, ev->daddr, ev->id));
      c->slow.pptp_calls_set_up++;
      break;
    case VPNPT_EV_GRE_UNKNOWN:
      c->diag.record(diag_entry(VPNPT_DIAG_PACKET, VPNPT_REASON_GRE_NO_CALL, 0, ev->saddr, ev->id));
      break;
    case VPNPT_EV_L2TP_UNKNOWN:
      c->diag.record(diag_entry(VPNPT_DIAG_PACKET, VPNPT_REASON_L2TP_NO_TUNNEL, 0, ev->saddr, ev->id));
      break;
    case VPNPT_EV_NO_NEIGH:
      // saddr: the next hop the kernel lost; id: its interface (bpf/lib/neigh.h).
      if (auto r = resolve_neighbour(ev->id, ev->saddr); !r)
        spdlog::warn("cannot have the kernel resolve {} on {} again: {}", format_ipv4(ev->saddr), ifname_of(ev->id),
                     r.error().message());
      else
        spdlog::debug("the kernel has no neighbour {} on {} (toward {}): resolving it", format_ipv4(ev->saddr),
                      ifname_of(ev->id), format_ipv4(ev->daddr));
      break;
    case VPNPT_EV_SWITCHED_OFF: c->diag.record(packet_entry(*ev)); break;
    case VPNPT_EV_PPTP_CDN:
      c->pptp.on_disconnect(ev->saddr, htons(static_cast<uint16_t>(ev->id)), ev->dport, monotonic_ns());
      break;
    case VPNPT_EV_PPTP_STOP:
      log_about({ev->saddr, ev->daddr, "pptp"}, spdlog::level::info,
                "PPTP control connection {} -> {} stopping (Stop-Control-Connection)", format_ipv4(ev->saddr),
                format_ipv4(ev->daddr));
      break;
    case VPNPT_EV_ESP_UNKNOWN:
      if (switched_on(*c, VPNPT_SW_IPSEC)) {
        auto r = c->ipsec.on_unknown_spi(ev->saddr, ev->id, monotonic_ns());
        if (r.bound)
          c->slow.esp_bound++;
        else if (r.refusal < c->slow.esp_refused.size())
          c->slow.esp_refused[r.refusal]++;
        auto d =
            diag_entry(r.bound ? VPNPT_DIAG_ESP_BOUND : VPNPT_DIAG_ESP_REFUSED, r.refusal, r.host, ev->saddr, ev->id);
        d.other_host = r.owner;
        c->diag.record(d);
      }
      break;
    case VPNPT_EV_DROP: {
      spdlog::debug("{} packet {} -> {} dropped: {}", dir_name(ev->dir), format_ipv4(ev->saddr), format_ipv4(ev->daddr),
                    reason_text(ev->reason));
      c->diag.record(packet_entry(*ev));
      break;
    }
  }
  return 0;
}

// Defers PPTP to the kernel while its PPTP helper is attached (two translators on one stream break it).
void check_kernel_helper(Ctx& c) {
  std::string evidence;
  bool present = kernel_pptp_helper_present(&evidence);
  auto cfg = c.att.maps.config();
  if (!cfg) return;
  bool deferred = cfg->deferred & VPNPT_SW_PPTP;
  if (present == deferred) return;
  if (present) {
    cfg->deferred |= VPNPT_SW_PPTP;
    spdlog::warn(
        "the kernel's PPTP NAT helper is attached ({}); vpnpt hands PPTP to it to avoid translating Call "
        "IDs twice, which limits PPTP to what the kernel supports. Remove the helper to use vpnpt's PPTP "
        "passthrough",
        evidence);
  } else {
    cfg->deferred &= ~VPNPT_SW_PPTP;
    spdlog::info("the kernel's PPTP helper is gone; vpnpt translates PPTP again");
  }
  cfg->generation++;
  (void)c.att.maps.set_config(*cfg);
}

// Only the daemon writes session state: a protocol switched off (by `vpnpt
// set`, a reload, the config at start, or deferred to the kernel's helper)
// has its sessions flushed here, once per switch-off.
void apply_switches(Ctx& c) {
  auto cfg = c.att.maps.config();
  if (!cfg) return;
  uint32_t active = cfg->switches & ~cfg->deferred;
  auto flush = [&c](uint32_t bit) {
    switch (bit) {
      case VPNPT_SW_PPTP: return c.pptp.flush();
      case VPNPT_SW_IPSEC: return c.ipsec.flush();
      default: return c.l2tp.flush();
    }
  };
  for (const auto& p : kProtocols) {
    if (active & p.switch_bit) {
      c.flushed_off &= ~p.switch_bit;
    } else if (!(c.flushed_off & p.switch_bit)) {
      c.flushed_off |= p.switch_bit;
      if (uint32_t n = flush(p.switch_bit)) spdlog::info("{} passthrough is off: {} session(s) flushed", p.title, n);
    }
  }
}

int on_l2tp_punt(void* ctx, void* data, size_t size) {
  auto* c = static_cast<Ctx*>(ctx);
  if (size < sizeof(vpnpt_l2tp_punt)) return 0;
  const auto* rec = static_cast<const vpnpt_l2tp_punt*>(data);
  auto cfg = c->att.maps.config();
  if (!cfg) return 0;
  auto s = c->l2tp.on_punt(*rec, size, cfg->public_ip, monotonic_ns(), switched_on(*c, VPNPT_SW_L2TP));
  if (!s) return 0;
  if (s->sent && s->new_tunnel) {
    auto d = diag_entry(VPNPT_DIAG_L2TP_TUNNEL, 0, s->tunnel.client, s->tunnel.server,
                        uint32_t{ntohs(s->tunnel.client_tunnel_id)} << 16 | s->wire_id());
    d.aux = s->tunnel.flags;
    c->diag.record(d);
  } else if (!s->sent && s->refusal) {
    uint32_t client = 0, server = 0;
    if (rec->frame_len >= rec->l3_off + 20u) {
      std::memcpy(&client, rec->frame + rec->l3_off + 12, 4);
      std::memcpy(&server, rec->frame + rec->l3_off + 16, 4);
    }
    log_about({client, server, "l2tp"}, spdlog::level::warn, "L2TP tunnel request {} -> {} not forwarded: {}",
              format_ipv4(client), format_ipv4(server), l2tp_refusal_text(s->refusal));
    c->diag.record(diag_entry(VPNPT_DIAG_L2TP_REFUSED, s->refusal, client, server, 0));
  }
  return 0;
}

// Copies the L2TP slow path's counters to the metrics endpoint's atomics.
void publish_l2tp(const L2tpStats& s, SlowPathCounters& out) {
  out.l2tp_tunnels_port_nat = s.port_nat;
  out.l2tp_tunnels_translated_id = s.ids_translated;
  out.l2tp_tunnels_same_id = s.tunnels_set_up - s.ids_translated - s.port_nat;
  for (size_t i = 0; i < s.refused.size(); ++i) out.l2tp_refused[i] = s.refused[i];
  for (size_t i = 0; i < s.ended.size(); ++i) out.l2tp_ended[i] = s.ended[i];
}

// The heartbeat that lets the data plane hand L2TP setup to this daemon (0: gone).
void heartbeat(Attached& att, bool alive) {
  uint32_t zero = 0;
  vpnpt_daemon d{};
  d.heartbeat_ns = alive ? monotonic_ns() : 0;
  d.pid = alive ? static_cast<uint32_t>(getpid()) : 0;
  bpf_map_update_elem(att.maps.daemon_fd(), &zero, &d, BPF_ANY);
}

// Moves interfaces whose devices changed to the path that now works; a
// failure is logged once per distinct message.
void reconcile_paths(PathAttacher& paths, Attached& att) {
  static std::string last_error;
  auto recs = att.maps.ifaces();
  if (!recs) return;
  auto moved = paths.reconcile(recorded_ifaces(*recs), att.maps);
  if (!moved && moved.error().message() != last_error) {
    last_error = moved.error().message();
    spdlog::warn("cannot re-check the interfaces' data paths: {}", last_error);
  }
}

// SIGHUP: the configuration file again; what the daemon itself runs with
// (timeouts) changes here, the rest in opts.reload.
void reload(Ctx& c) {
  const DaemonOptions& opts = c.opts;
  if (!opts.reload) {
    spdlog::info("received SIGHUP; no configuration file to reload (attach --config FILE has one)");
    return;
  }
  sd_notify_state("RELOADING=1");
  if (auto t = opts.reload()) {
    c.pptp.set_timeouts(t->pptp);
    c.ipsec.set_timeouts(t->ipsec_binder, t->ipsec);
  }
  sd_notify_state("READY=1");
}

struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};

Result<Fd> block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);  // reload, never stop: systemd would take the exit as clean and not restart
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return make_error("cannot block signals", errno);
  Fd fd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd.valid()) return make_error("cannot create signalfd", errno);
  return fd;
}

Result<Fd> periodic_timer(long millis) {
  Fd fd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!fd.valid()) return make_error("cannot create timerfd", errno);
  itimerspec its{};
  its.it_interval.tv_nsec = millis * 1000000L;
  its.it_value.tv_nsec = millis * 1000000L;
  if (timerfd_settime(fd.get(), 0, &its, nullptr) != 0) return make_error("cannot arm timerfd", errno);
  return fd;
}

using RingPtr = std::unique_ptr<ring_buffer, RingBufferDeleter>;

// The IKE queue's verdict for one packet: accepted, held until the
// server's peer exchange is done, or dropped over its host's share.
NfQueue::Decision on_ike(Ctx& ctx, uint32_t wan_ifindex, uint32_t id, const uint8_t* p, size_t len, uint32_t indev) {
  if (!switched_on(ctx, VPNPT_SW_IPSEC)) return NfQueue::Decision::Accept;
  uint64_t now = monotonic_ns();
  bool from_wan = indev == wan_ifindex;
  IkeVerdict v = ctx.ipsec.on_ike_packet(id, p, len, from_wan, now);
  if (v == IkeVerdict::Drop) return NfQueue::Decision::Drop;  // over its host's share; counted by the binder
  if (v != IkeVerdict::Hold) return NfQueue::Decision::Accept;
  ctx.slow.ike_held++;
  if (auto m = ike_message_from_packet(p, len, from_wan)) {
    auto owner = ctx.ipsec.binder().owner_of(m->server);
    auto d = diag_entry(VPNPT_DIAG_IKE_HELD, 0, m->host, m->server, 0);
    d.other_host = owner.value_or(0);
    d.aux = static_cast<uint32_t>(ctx.ipsec.binder().owner_ms_left(m->server, now));
    ctx.diag.record(d);
  }
  return NfQueue::Decision::Hold;
}

// IKE on UDP 500 through a netfilter queue, so CHILD_SA exchanges can be
// ordered (docs/ipsec.md), fed by an nftables table @table keeps in place.
// Without it the daemon runs on, SPI learning off.
std::unique_ptr<NfQueue> open_ike_queue(Ctx& ctx, std::optional<IkeTableGuard>& table) {
  uint32_t wan_ifindex = 0;
  if (auto cfg = ctx.att.maps.config()) wan_ifindex = cfg->wan_ifindex;
  uint16_t qnum = ike_queue_number(wan_ifindex);
  auto q = NfQueue::open(qnum, [&ctx, wan_ifindex](uint32_t id, const uint8_t* p, size_t len, uint32_t indev) {
    return on_ike(ctx, wan_ifindex, id, p, len, indev);
  });
  if (!q) {
    spdlog::error("{}; raw-ESP SPI learning is off", q.error().message());
    return nullptr;
  }
  // The queue is bound before the rules feed it (they bypass an unbound one anyway).
  auto guard = IkeTableGuard::install(ctx.att.id.wan_if, qnum, monotonic_ns(), ctx.slow.nft_restores);
  if (!guard) {
    spdlog::error("{}; raw-ESP SPI learning is off (inbound ESP with new SPIs will not be delivered)",
                  guard.error().message());
    return nullptr;
  }
  table.emplace(std::move(*guard));
  return std::move(*q);
}

// The data plane's rings, in the order they are drained: what the daemon acts on first.
Result<RingPtr> open_rings(Ctx& ctx) {
  RingPtr rb(ring_buffer__new(ctx.att.maps.events_fd(), on_event, &ctx, nullptr));
  if (!rb) return make_error("cannot open the events ring buffer", errno);
  if (ring_buffer__add(rb.get(), ctx.att.maps.l2tp_punt_fd(), on_l2tp_punt, &ctx) != 0)
    return make_error("cannot open the L2TP ring buffer", errno);
  if (ring_buffer__add(rb.get(), ctx.att.maps.diag_events_fd(), on_event, &ctx) != 0)
    return make_error("cannot open the diagnostic events ring buffer", errno);
  return rb;
}

Result<std::unique_ptr<MetricsServer>> start_metrics(Attached& att, const DaemonOptions& opts, SlowPathCounters& slow) {
  if (opts.metrics_address.empty()) return std::unique_ptr<MetricsServer>();
  std::string mode = "unknown";
  if (auto ifs = att.maps.ifaces(); ifs && !ifs->empty()) mode = mode_name(ifs->begin()->second.xdp_mode);
  return MetricsServer::start(opts.metrics_address, att.id, mode, &slow);
}

// What the loop's jobs work on, besides the slow paths in Ctx.
struct Loop {
  Ctx& ctx;
  NfQueue* ikeq;
  IkeTableGuard* ike_table;  // null when SPI learning is off
  ring_buffer* rb;
  QuotaAdjuster& quotas;
  std::optional<std::chrono::microseconds> watchdog = sd_watchdog_interval();
  uint64_t last_ping_ns = 0;
  bool quota_failing = false;
};

// Rings and the IKE queue drained, then held IKE requests released: IKE
// before ESP reports, since an exchange's response must be seen before its
// first ESP.
void drain(Loop& l, uint64_t now) {
  if (l.ikeq) l.ikeq->drain();
  ring_buffer__consume(l.rb);
  for (const auto& rel : l.ctx.ipsec.tick(now))
    if (l.ikeq) l.ikeq->verdict(static_cast<uint32_t>(rel.ticket), rel.accept);
}

// Every tick. The heartbeat and the watchdog come from the loop itself,
// so a loop that hangs stops them.
void fast_job(Loop& l, uint64_t now) {
  drain(l, now);
  heartbeat(l.ctx.att, true);
  // At half the watchdog interval, as sd_watchdog_enabled(3) advises.
  if (l.watchdog && now - l.last_ping_ns >= static_cast<uint64_t>(l.watchdog->count()) * 500) {
    sd_notify_state("WATCHDOG=1");
    l.last_ping_ns = now;
  }
  apply_switches(l.ctx);
}

void sweep_job(Loop& l, uint64_t now) {
  Ctx& ctx = l.ctx;
  ctx.pptp.sweep(now);
  ctx.l2tp.sweep(now);
  auto r = recount_host_quotas(l.quotas, ctx.att.maps.quotas());
  if (!r && !l.quota_failing) spdlog::warn("per-host quotas not corrected: {}", r.error().message());
  l.quota_failing = !r;  // one line when it starts failing, not one a second
  publish_l2tp(ctx.l2tp.stats(), ctx.slow);
  ctx.slow.esp_sas_expired += ctx.ipsec.sweep(now);
  const auto& bs = ctx.ipsec.binder().stats();
  ctx.slow.ike_hold_expired = bs.hold_expired;
  ctx.slow.ike_over_share = bs.held_over_share;
  ctx.slow.esp_windows_expired = bs.windows_expired;
}

// The loop's periodic work, in the order it runs within a tick.
Status add_jobs(Jobs& jobs, Loop& l, PathAttacher* paths) {
  Status added = jobs.every(kTick, "events, IKE holds, heartbeat, switches", [&l](uint64_t now) { fast_job(l, now); });
  if (added)
    added = jobs.every(std::chrono::seconds(1), "session sweeps, quotas, counters",
                       [&l](uint64_t now) { sweep_job(l, now); });
  if (added && l.ctx.opts.detect_kernel_helpers)
    added = jobs.every(std::chrono::seconds(5), "kernel PPTP helper", [&l](uint64_t) { check_kernel_helper(l.ctx); });
  // A firewall reload may delete the IKE queue's table: put it back within 3 s
  // (at once when nf_tables announces it: kNftables in the loop).
  if (added && l.ike_table)
    added = jobs.every(std::chrono::seconds(3), "IKE queue nftables table",
                       [&l](uint64_t now) { l.ike_table->check(now); });
  // Interfaces move between XDP and TC when their devices change.
  if (added && paths)
    added = jobs.every(std::chrono::milliseconds(500), "data paths",
                       [paths, &l](uint64_t) { reconcile_paths(*paths, l.ctx.att); });
  return added;
}

// A signal: SIGHUP reloads (false: keep running); SIGINT/SIGTERM stop the
// daemon and leave the data plane and its sessions in place (true).
bool on_signal(Ctx& ctx, int sigfd) {
  signalfd_siginfo si{};
  (void)!read(sigfd, &si, sizeof(si));
  if (si.ssi_signo == SIGHUP) {
    reload(ctx);
    return false;
  }
  sd_notify_state("STOPPING=1");
  spdlog::info("received {}; daemon stops, data plane and sessions stay (vpnpt detach {} removes them)",
               strsignal(static_cast<int>(si.ssi_signo)), ctx.att.id.wan_if);
  heartbeat(ctx.att, false);  // new L2TP tunnels go to the kernel's NAT at once
  return true;
}

}  // namespace

Status run_daemon(Attached& att, const DaemonOptions& opts) {
  auto sig = block_signals();
  if (!sig) return sig.error();
  // 100 ms: held IKE requests must be released promptly; slower work is in the jobs table.
  auto timer = periodic_timer(kTick.count());
  if (!timer) return timer.error();

  DiagRing diag(att.maps.diag_fd());
  SlowPathCounters slow;
  auto on_close = [&diag, &slow](const PptpCall& p, uint32_t why) {
    diag.record(diag_entry(VPNPT_DIAG_PPTP_CLOSED, why, p.call.client, p.call.server, p.xlat));
    if (why < slow.pptp_calls_ended.size()) slow.pptp_calls_ended[why]++;
  };
  auto sender = FrameSender::open();
  if (!sender) return sender.error();
  auto l2tp_send = [&sender](uint32_t ifindex, const uint8_t* f, size_t len) { return sender->send(ifindex, f, len); };
  auto l2tp_close = [&diag](uint16_t xid, const vpnpt_l2tp_tunnel& t, uint32_t why) {
    diag.record(diag_entry(VPNPT_DIAG_L2TP_CLOSED, why, t.client, t.server, t.flags & VPNPT_L2TP_F_PORT_NAT ? 0 : xid));
  };
  Ctx ctx{att,
          diag,
          slow,
          PptpSlowPath(att.maps.pptp(), opts.timeouts.pptp, on_close),
          IpsecSlowPath(att.maps.ipsec(), opts.timeouts.ipsec_binder, opts.timeouts.ipsec),
          L2tpSlowPath(att.maps.l2tp(), opts.l2tp, l2tp_send, l2tp_close),
          opts};
  if (!ctx.pptp.ready()) return ctx.pptp.ready().error();
  if (!ctx.l2tp.ready()) return ctx.l2tp.ready().error();
  if (!ctx.ipsec.ready()) return ctx.ipsec.ready().error();
  if (opts.detect_kernel_helpers) check_kernel_helper(ctx);
  apply_switches(ctx);  // what is off at start (adopted, or set while no daemon ran) is flushed first
  auto quotas = QuotaAdjuster::open(att.maps.quotas().quota);
  if (!quotas) return quotas.error();
  // What XDP redirected and the kernel could not hand over, for diagnose and the metrics.
  auto undelivered = UndeliveredTrace::attach(att.id.pin_dir);
  if (!undelivered)
    spdlog::warn("{}; `vpnpt diagnose` cannot report frames XDP failed to deliver", undelivered.error().message());
  std::optional<IkeTableGuard> ike_table;
  std::unique_ptr<NfQueue> ikeq = open_ike_queue(ctx, ike_table);
  auto rb = open_rings(ctx);
  if (!rb) return rb.error();
  auto metrics = start_metrics(att, opts, slow);
  if (!metrics) return metrics.error();

  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) return make_error("cannot create epoll", errno);
  enum : uint64_t { kSignal, kTimer, kEvents, kIke, kNftables };
  auto add = [&](int fd, uint64_t tag) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = tag;
    return epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &e);
  };
  if (add(sig->get(), kSignal) || add(timer->get(), kTimer) || add(ring_buffer__epoll_fd(rb->get()), kEvents) ||
      (ikeq && add(ikeq->fd(), kIke)) ||
      (ike_table && ike_table->watch_fd() >= 0 && add(ike_table->watch_fd(), kNftables)))
    return make_error("cannot watch daemon file descriptors", errno);

  Loop loop{ctx, ikeq.get(), ike_table ? &*ike_table : nullptr, rb->get(), *quotas};
  Jobs jobs(kTick);
  if (auto added = add_jobs(jobs, loop, att.paths.get()); !added) return added.error();
  for (const auto& j : jobs.list()) spdlog::debug("daemon job every {} ms: {}", j.every_ticks * kTick.count(), j.name);

  spdlog::info("vpnpt daemon running for {} (pid {}); Ctrl-C stops the daemon and keeps the data plane", att.id.wan_if,
               getpid());
  // Attached and serving (metrics included): systemd's Type=notify start ends here. The heartbeat
  // goes first, so a ready daemon is one the hooks hand L2TP setup to (the first tick may be a while).
  heartbeat(att, true);
  sd_notify_state("READY=1\nSTATUS=serving " + att.id.wan_if);
  uint64_t tick = 0;
  for (;;) {
    epoll_event evs[8];
    int n = epoll_wait(ep.get(), evs, 8, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("epoll_wait failed", errno);
    }
    for (int i = 0; i < n; ++i) {
      switch (evs[i].data.u64) {
        case kSignal:
          if (on_signal(ctx, sig->get())) return {};
          break;
        case kTimer: {
          uint64_t ticks;
          (void)!read(timer->get(), &ticks, sizeof(ticks));
          jobs.run(++tick, monotonic_ns());
          break;
        }
        case kEvents: drain(loop, monotonic_ns()); break;
        case kIke: ikeq->drain(); break;
        case kNftables: ike_table->on_notifications(monotonic_ns()); break;
      }
    }
  }
}

}  // namespace vpnpt
