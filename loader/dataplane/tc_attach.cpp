#include "loader/dataplane/tc_attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>

#include "loader/core/log.h"

namespace vpnpt {
namespace {

// "vp": vpnpt's filter. Priority 1 runs it before other filters, as XDP
// would run before the stack; it passes what is not its own on with
// TC_ACT_UNSPEC, so later filters still see that traffic.
constexpr uint32_t kHandle = 0x7670;
constexpr uint32_t kPriority = 1;

bpf_tc_hook ingress_hook(uint32_t ifindex) {
  bpf_tc_hook h{};
  h.sz = sizeof(h);
  h.ifindex = static_cast<int>(ifindex);
  h.attach_point = BPF_TC_INGRESS;
  return h;
}

bpf_tc_opts our_filter() {
  bpf_tc_opts o{};
  o.sz = sizeof(o);
  o.handle = kHandle;
  o.priority = kPriority;
  return o;
}

// The id of the program vpnpt's filter runs on @ifindex, 0 if none.
uint32_t attached_id(uint32_t ifindex) {
  bpf_tc_hook h = ingress_hook(ifindex);
  bpf_tc_opts o = our_filter();
  QuietLibbpf quiet;
  if (bpf_tc_query(&h, &o) != 0) return 0;
  return o.prog_id;
}

}  // namespace

Result<uint32_t> tc_attach(uint32_t ifindex, const std::string& ifname, int prog_fd) {
  bpf_tc_hook h = ingress_hook(ifindex);
  int err;
  {
    QuietLibbpf quiet;
    err = bpf_tc_hook_create(&h);
  }
  if (err && err != -EEXIST)
    return make_error("cannot add the clsact qdisc to " + ifname + " (TC path): " + std::strerror(-err), -err);
  bpf_tc_opts o = our_filter();
  o.prog_fd = prog_fd;
  o.flags = BPF_TC_F_REPLACE;
  {
    QuietLibbpf quiet;
    err = bpf_tc_attach(&h, &o);
  }
  if (err) return make_error("cannot attach the TC program to " + ifname + ": " + std::strerror(-err), -err);
  return o.prog_id;
}

bool tc_prog_attached(uint32_t ifindex, uint32_t prog_id) { return prog_id && attached_id(ifindex) == prog_id; }

Status tc_detach_prog(uint32_t ifindex, uint32_t prog_id) {
  if (!tc_prog_attached(ifindex, prog_id)) return {};
  bpf_tc_hook h = ingress_hook(ifindex);
  bpf_tc_opts o = our_filter();  // detach names the filter by handle and priority only
  int err;
  {
    QuietLibbpf quiet;
    err = bpf_tc_detach(&h, &o);
  }
  if (err && err != -ENOENT)
    return make_error("cannot detach TC program " + std::to_string(prog_id) + ": " + std::strerror(-err), -err);
  return {};
}

}  // namespace vpnpt
