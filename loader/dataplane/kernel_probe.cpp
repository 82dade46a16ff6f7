#include "loader/dataplane/kernel_probe.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/utsname.h>

#include <optional>

#include "loader/dataplane/kernel_helpers.h"
#include "loader/dataplane/link_caps.h"

namespace vpnpt {
namespace {

bool helper(bpf_prog_type type, bpf_func_id id) { return libbpf_probe_bpf_helper(type, id, nullptr) == 1; }

// A kfunc is present when vmlinux's or nf_conntrack's BTF has a FUNC of that name.
class KfuncIndex {
 public:
  KfuncIndex() : vmlinux_(btf__load_vmlinux_btf()) {
    if (libbpf_get_error(vmlinux_)) vmlinux_ = nullptr;
    if (vmlinux_) {
      ct_ = btf__load_module_btf("nf_conntrack", vmlinux_);
      if (libbpf_get_error(ct_)) ct_ = nullptr;
    }
  }
  ~KfuncIndex() {
    btf__free(ct_);
    btf__free(vmlinux_);
  }
  KfuncIndex(const KfuncIndex&) = delete;
  KfuncIndex& operator=(const KfuncIndex&) = delete;
  bool has(const char* name) const {
    for (const btf* b : {ct_, vmlinux_})
      if (b && btf__find_by_name_kind(b, name, BTF_KIND_FUNC) > 0) return true;
    return false;
  }

 private:
  btf* vmlinux_ = nullptr;
  btf* ct_ = nullptr;
};

}  // namespace

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "unknown";
}

std::vector<KernelFeature> probe_kernel_features() {
  KfuncIndex k;
  return {
      {"BPF ring buffer", "5.8", libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 1},
      {"BPF syscall programs", "5.14", libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SYSCALL, nullptr) == 1},
      {"bpf_fib_lookup in XDP", "4.18", helper(BPF_PROG_TYPE_XDP, BPF_FUNC_fib_lookup)},
      {"bpf_loop", "5.17", helper(BPF_PROG_TYPE_XDP, BPF_FUNC_loop)},
      {"bpf_xdp_load_bytes", "5.18", helper(BPF_PROG_TYPE_XDP, BPF_FUNC_xdp_load_bytes)},
      {"bpf_redirect_neigh", "5.10", helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect_neigh)},
      {"kfunc bpf_xdp_ct_lookup", "5.18", k.has("bpf_xdp_ct_lookup")},
      {"kfunc bpf_skb_ct_lookup", "5.18", k.has("bpf_skb_ct_lookup")},
      {"kfunc bpf_ct_release", "5.18", k.has("bpf_ct_release")},
      {"kfunc bpf_ct_change_timeout", "6.0", k.has("bpf_ct_change_timeout")},
  };
}

Status check_kernel_features(const std::vector<KernelFeature>& features, const std::string& release) {
  std::string missing;
  for (const auto& f : features)
    if (!f.present) missing += std::string(missing.empty() ? "" : ", ") + f.name + " (" + f.since + ")";
  if (missing.empty()) return {};
  return make_error("this kernel (" + release + ") lacks " + missing +
                    ": vpnpt needs Linux 6.1 or later (docs/kernels.md)");
}

std::vector<KernelDegradation> kernel_degradations() {
  std::vector<KernelDegradation> out;
  if (!kernel_reports_xdp_features())
    out.push_back({"xdp_features",
                   "no xdp_features (Linux 6.3): which devices take XDP frames follows a "
                   "conservative rule (docs/dataplane.md)"});
  return out;
}

Status require_kernel_features() {
  static std::optional<Status> checked;
  if (!checked) {
    // The conntrack kfuncs live in the module's BTF: load it first, or say why not.
    if (auto m = ensure_conntrack_module(); !m) return m;
    checked = check_kernel_features(probe_kernel_features(), kernel_release());
  }
  return *checked;
}

}  // namespace vpnpt
