#include "loader/dataplane/xdp_attach.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "loader/dataplane/kernel_helpers.h"
#include "loader/core/log.h"
#include "loader/core/netif.h"

namespace vpnpt {
namespace {

std::string xdp_error(int err) {
  char buf[256] = {};
  libxdp_strerror(err, buf, sizeof(buf));
  return buf;
}

Status attach_once(xdp_program* p, uint32_t ifindex, const std::string& ifname, xdp_attach_mode mode) {
  VPNPT_TRY(ensure_conntrack_module());  // libxdp loads the program here
  int err;
  {
    QuietLibbpf quiet;
    err = xdp_program__attach(p, static_cast<int>(ifindex), mode, 0);
  }
  if (err == 0) return {};
  std::string m = mode == XDP_MODE_NATIVE ? "native" : "skb";
  std::string what = "cannot attach XDP (" + m + " mode) to " + ifname + ": " + xdp_error(err);
  if (err == -EEXIST || err == -EBUSY)
    what +=
        "; another XDP program that libxdp cannot share the interface with is attached (`ip link show " + ifname + "`)";
  else if (mode == XDP_MODE_NATIVE)
    what += "; the driver may lack native XDP, retry with --mode skb";
  Error e = make_error(what);
  e.err = err < 0 ? -err : err;  // kept for the fallback decision, not printed twice
  return e;
}

// Finds our program on an interface; calls fn(mp, prog) on a match.
template <class Fn>
bool find_prog(uint32_t ifindex, uint32_t prog_id, Fn&& fn) {
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(static_cast<int>(ifindex));
  if (!mp || libxdp_get_error(mp)) return false;
  bool found = false;
  if (xdp_multiprog__is_legacy(mp)) {
    xdp_program* p = xdp_multiprog__main_prog(mp);
    if (p && xdp_program__id(p) == prog_id) {
      found = true;
      fn(mp, p);
    }
  } else {
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
      if (xdp_program__id(p) == prog_id) {
        found = true;
        fn(mp, p);
        break;
      }
    }
  }
  xdp_multiprog__close(mp);
  return found;
}

}  // namespace

Result<ModeRequest> parse_mode(const std::string& text) {
  if (text == "auto") return ModeRequest::Auto;
  if (text == "native") return ModeRequest::Native;
  if (text == "skb") return ModeRequest::Skb;
  if (text == "tc") return ModeRequest::Tc;
  return make_error("unknown mode '" + text + "' (expected auto, native, skb or tc)");
}

const char* mode_request_name(ModeRequest m) {
  switch (m) {
    case ModeRequest::Native: return "native";
    case ModeRequest::Skb: return "skb";
    case ModeRequest::Tc: return "tc";
    case ModeRequest::Auto: break;
  }
  return "auto";
}

const char* mode_name(uint32_t vpnpt_mode) {
  switch (vpnpt_mode) {
    case VPNPT_MODE_NATIVE: return "native";
    case VPNPT_MODE_SKB: return "skb";
    case VPNPT_MODE_TC: return "tc";
    default: return "unknown";
  }
}

Result<XdpProgram> XdpProgram::from_object(bpf_object* obj, const char* prog_name) {
  xdp_program_opts opts{};
  opts.sz = sizeof(opts);
  opts.obj = obj;
  opts.prog_name = prog_name;
  xdp_program* p = xdp_program__create(&opts);
  long err = libxdp_get_error(p);
  if (!p || err) return make_error(std::string("cannot prepare XDP program ") + prog_name, static_cast<int>(err));
  return XdpProgram(p);
}

XdpProgram::XdpProgram(XdpProgram&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}

XdpProgram::~XdpProgram() {
  if (p_) xdp_program__close(p_);
}

uint32_t XdpProgram::id() const { return xdp_program__id(p_); }

Result<uint32_t> XdpProgram::attach(uint32_t ifindex, const std::string& ifname, ModeRequest mode) {
  if (mode == ModeRequest::Skb) {
    VPNPT_TRY(attach_once(p_, ifindex, ifname, XDP_MODE_SKB));
    return uint32_t{VPNPT_MODE_SKB};
  }
  auto native = attach_once(p_, ifindex, ifname, XDP_MODE_NATIVE);
  if (native) return uint32_t{VPNPT_MODE_NATIVE};
  // Busy means another program holds the interface: skb mode would fail the same way.
  int e = native.error().err;
  if (mode == ModeRequest::Native || e == EBUSY || e == EEXIST) return Error{0, native.error().what};
  spdlog::warn("native XDP failed on {} ({}); falling back to skb (generic) mode, which is slower", ifname,
               native.error().what);
  VPNPT_TRY(attach_once(p_, ifindex, ifname, XDP_MODE_SKB));
  return uint32_t{VPNPT_MODE_SKB};
}

bool xdp_uses_dispatcher(uint32_t ifindex) {
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(static_cast<int>(ifindex));
  if (!mp || libxdp_get_error(mp)) return false;
  bool d = !xdp_multiprog__is_legacy(mp);
  xdp_multiprog__close(mp);
  return d;
}

bool xdp_prog_attached(uint32_t ifindex, uint32_t prog_id) {
  return find_prog(ifindex, prog_id, [](xdp_multiprog*, xdp_program*) {});
}

Status xdp_replace(uint32_t ifindex, uint32_t vpnpt_mode, int old_fd, int new_fd) {
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
  const uint32_t flags = XDP_FLAGS_REPLACE | (vpnpt_mode == VPNPT_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
  int err;
  {
    QuietLibbpf quiet;
    err = bpf_xdp_attach(static_cast<int>(ifindex), new_fd, flags, &opts);
  }
  if (err) return make_error("cannot replace the XDP program on " + ifname_of(ifindex) + ": " + std::strerror(-err), -err);
  return {};
}

Result<uint32_t> xdp_attach_loaded(uint32_t ifindex, uint32_t vpnpt_mode, int prog_fd) {
  xdp_program* p = xdp_program__from_fd(prog_fd);
  if (long e = libxdp_get_error(p); !p || e) return make_error("cannot prepare the XDP program", static_cast<int>(-e));
  auto s = attach_once(p, ifindex, ifname_of(ifindex), vpnpt_mode == VPNPT_MODE_SKB ? XDP_MODE_SKB : XDP_MODE_NATIVE);
  const uint32_t id = xdp_program__id(p);
  xdp_program__close(p);  // the handle only: the program stays attached
  if (!s) return s.error();
  return id;
}

Status xdp_detach_prog(uint32_t ifindex, uint32_t prog_id) {
  int err = 0;
  find_prog(ifindex, prog_id, [&](xdp_multiprog* mp, xdp_program* p) {
    if (xdp_multiprog__is_legacy(mp))
      err = xdp_multiprog__detach(mp);
    else
      err = xdp_program__detach(p, static_cast<int>(ifindex), xdp_multiprog__attach_mode(mp), 0);
  });
  if (err) return make_error("cannot detach XDP program " + std::to_string(prog_id) + ": " + xdp_error(err));
  return {};
}

}  // namespace vpnpt
