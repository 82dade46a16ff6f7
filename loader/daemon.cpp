#include "loader/daemon.h"

#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include <memory>

#include "../maps/vpnpt_abi.h"
#include "loader/fd.h"
#include "loader/kernel_helpers.h"
#include "loader/metrics.h"
#include "loader/names.h"
#include "loader/netif.h"

namespace vpnpt {
namespace {

struct Ctx {
  Attached& att;
  PptpSlowPath pptp;
  const DaemonOptions& opts;
};

int on_event(void* ctx, void* data, size_t size) {
  auto* c = static_cast<Ctx*>(ctx);
  if (size < sizeof(vpnpt_event)) return 0;
  const auto* ev = static_cast<const vpnpt_event*>(data);
  switch (ev->kind) {
    case VPNPT_EV_MALFORMED:
      spdlog::debug("malformed {} packet on {} ({} -> {}): {}", dir_name(ev->dir), ifname_of(ev->ifindex),
                    format_ipv4(ev->saddr), format_ipv4(ev->daddr), reason_text(ev->reason));
      break;
    case VPNPT_EV_PPTP_CALL:
      spdlog::info("PPTP call set up: {} Call ID {} -> {}, seen by the server as Call ID {}", format_ipv4(ev->saddr),
                   ev->id >> 16, format_ipv4(ev->daddr), ev->id & 0xffff);
      break;
    case VPNPT_EV_PPTP_CDN:
      c->pptp.on_disconnect(ev->saddr, htons(static_cast<uint16_t>(ev->id)), ev->dport, monotonic_ns());
      break;
    case VPNPT_EV_PPTP_STOP:
      spdlog::info("PPTP control connection {} -> {} stopping (Stop-Control-Connection)", format_ipv4(ev->saddr),
                   format_ipv4(ev->daddr));
      break;
    case VPNPT_EV_DROP:
      spdlog::debug("{} packet {} -> {} dropped: {}", dir_name(ev->dir), format_ipv4(ev->saddr),
                    format_ipv4(ev->daddr), reason_text(ev->reason));
      break;
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
    spdlog::warn("the kernel's PPTP NAT helper is attached ({}); vpnpt hands PPTP to it to avoid translating Call "
                 "IDs twice, which limits PPTP to what the kernel supports. Remove the helper to use vpnpt's PPTP "
                 "passthrough",
                 evidence);
    c.pptp.flush();
  } else {
    cfg->deferred &= ~VPNPT_SW_PPTP;
    spdlog::info("the kernel's PPTP helper is gone; vpnpt translates PPTP again");
  }
  cfg->generation++;
  (void)c.att.maps.set_config(*cfg);
}

struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};

Result<Fd> block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return make_error("cannot block signals", errno);
  Fd fd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd.valid()) return make_error("cannot create signalfd", errno);
  return fd;
}

Result<Fd> periodic_timer(int seconds) {
  Fd fd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!fd.valid()) return make_error("cannot create timerfd", errno);
  itimerspec its{};
  its.it_interval.tv_sec = seconds;
  its.it_value.tv_sec = seconds;
  if (timerfd_settime(fd.get(), 0, &its, nullptr) != 0) return make_error("cannot arm timerfd", errno);
  return fd;
}

}  // namespace

Status run_daemon(Attached& att, const DaemonOptions& opts) {
  auto sig = block_signals();
  if (!sig) return sig.error();
  auto timer = periodic_timer(1);
  if (!timer) return timer.error();

  Ctx ctx{att, PptpSlowPath(att.maps.pptp(), opts.pptp), opts};
  if (opts.detect_kernel_helpers) check_kernel_helper(ctx);
  std::unique_ptr<ring_buffer, RingBufferDeleter> rb(ring_buffer__new(att.maps.events_fd(), on_event, &ctx, nullptr));
  if (!rb) return make_error("cannot open the events ring buffer", errno);

  std::unique_ptr<MetricsServer> metrics;
  if (!opts.metrics_address.empty()) {
    std::string mode = "unknown";
    if (auto ifs = att.maps.ifaces(); ifs && !ifs->empty()) mode = ifs->begin()->second.xdp_mode == VPNPT_MODE_SKB ? "skb" : "native";
    auto m = MetricsServer::start(opts.metrics_address, att.id, mode);
    if (!m) return m.error();
    metrics = std::move(*m);
  }

  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) return make_error("cannot create epoll", errno);
  enum : uint64_t { kSignal, kTimer, kEvents };
  auto add = [&](int fd, uint64_t tag) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = tag;
    return epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &e);
  };
  if (add(sig->get(), kSignal) || add(timer->get(), kTimer) || add(ring_buffer__epoll_fd(rb.get()), kEvents))
    return make_error("cannot watch daemon file descriptors", errno);

  spdlog::info("vpnpt daemon running for {} (pid {}); Ctrl-C stops the daemon and keeps the data plane",
               att.id.wan_if, getpid());
  uint64_t tick = 0;
  for (;;) {
    epoll_event evs[4];
    int n = epoll_wait(ep.get(), evs, 4, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("epoll_wait failed", errno);
    }
    for (int i = 0; i < n; ++i) {
      switch (evs[i].data.u64) {
        case kSignal: {
          signalfd_siginfo si{};
          (void)!read(sig->get(), &si, sizeof(si));
          spdlog::info("received {}; daemon stops, data plane and sessions stay (vpnpt detach {} removes them)",
                       strsignal(static_cast<int>(si.ssi_signo)), att.id.wan_if);
          return {};
        }
        case kTimer: {
          uint64_t ticks;
          (void)!read(timer->get(), &ticks, sizeof(ticks));
          ring_buffer__consume(rb.get());  // close what the data plane reported before sweeping
          ctx.pptp.sweep(monotonic_ns());
          if (opts.detect_kernel_helpers && ++tick % 5 == 0) check_kernel_helper(ctx);
          break;
        }
        case kEvents:
          ring_buffer__consume(rb.get());
          break;
      }
    }
  }
}

}  // namespace vpnpt
