#include "loader/daemon.h"

#include <bpf/libbpf.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include <memory>

#include "../maps/vpnpt_abi.h"
#include "loader/fd.h"
#include "loader/metrics.h"
#include "loader/names.h"
#include "loader/netif.h"

namespace vpnpt {
namespace {

int on_event(void*, void* data, size_t size) {
  if (size < sizeof(vpnpt_event)) return 0;
  const auto* ev = static_cast<const vpnpt_event*>(data);
  if (ev->kind == VPNPT_EV_MALFORMED)
    spdlog::debug("malformed {} packet on {} ({} -> {}): {}", dir_name(ev->dir), ifname_of(ev->ifindex),
                  format_ipv4(ev->saddr), format_ipv4(ev->daddr), reason_text(ev->reason));
  return 0;
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

  std::unique_ptr<ring_buffer, RingBufferDeleter> rb(ring_buffer__new(att.maps.events_fd(), on_event, nullptr, nullptr));
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
          break;  // periodic slow-path work (expiry, timers) hooks in here
        }
        case kEvents:
          ring_buffer__consume(rb.get());
          break;
      }
    }
  }
}

}  // namespace vpnpt
