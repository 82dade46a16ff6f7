#include "loader/dataplane/undelivered.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "abi/vpnpt_abi.h"
#include "loader/core/fd.h"
#include "loader/core/netif.h"
#include "loader/dataplane/programs.h"
#include "trace_undelivered.skel.h"

namespace vpnpt {

void UndeliveredTrace::Destroy::operator()(trace_undelivered_bpf* s) const { trace_undelivered_bpf::destroy(s); }

Result<UndeliveredTrace> UndeliveredTrace::attach(const std::string& pin_dir) {
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir.c_str());
  trace_undelivered_bpf* s = trace_undelivered_bpf::open(&opts);
  if (!s) return make_error("cannot open the undelivered-frame tracer", errno);
  UndeliveredTrace t(s);
  VPNPT_TRY(load_object(s->obj, "the undelivered-frame tracer"));
  if (int err = trace_undelivered_bpf::attach(s))
    return make_error("cannot attach the undelivered-frame tracer to the xdp tracepoints (needs kernel BTF)", err);
  return t;
}

std::vector<Undelivered> read_undelivered(const std::string& pin_dir) {
  Fd fd(bpf_obj_get((pin_dir + "/" + VPNPT_MAP_UNDELIVERED).c_str()));
  if (!fd.valid()) return {};
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return {};
  std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu));
  std::vector<Undelivered> out;
  vpnpt_undelivered_key key{}, next{};
  vpnpt_undelivered_key* prev = nullptr;
  while (bpf_map_get_next_key(fd.get(), prev, &next) == 0) {
    if (bpf_map_lookup_elem(fd.get(), &next, per_cpu.data()) == 0) {
      Undelivered u{next.from_ifindex, next.to_ifindex, next.err, next.stage, 0};
      for (uint64_t v : per_cpu) u.frames += v;
      if (u.frames) out.push_back(u);
    }
    key = next;
    prev = &key;
  }
  std::sort(out.begin(), out.end(), [](const Undelivered& a, const Undelivered& b) { return a.frames > b.frames; });
  return out;
}

std::string undelivered_reason(const Undelivered& u) {
  const std::string to = u.to_ifindex ? ifname_of(u.to_ifindex) : std::string("the target");
  const int e = -u.err;
  if (u.stage == VPNPT_UNDELIVERED_XMIT) {
    if (e == ENXIO) return to + " dropped them: a veth whose peer has neither GRO nor an XDP program, or is down";
    if (e == ENOSPC || e == EBUSY) return to + "'s XDP transmit queue was full";
    return to + "'s XDP transmit dropped them (" + std::strerror(e) + ")";
  }
  if (e == EOPNOTSUPP || e == 524 /* ENOTSUPP */) return to + " cannot take XDP frames (no XDP transmit)";
  if (e == ENETDOWN) return to + " is down";
  if (e == EMSGSIZE) return "larger than " + to + "'s MTU";
  if (e == EINVAL || e == ENODEV) return to + " is gone or cannot be a target";
  return "the redirect to " + to + " failed (" + std::strerror(e) + ")";
}

}  // namespace vpnpt
