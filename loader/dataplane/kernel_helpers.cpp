#include "loader/dataplane/kernel_helpers.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "abi/vpnpt_abi.h"

namespace vpnpt {
namespace {

std::string run(const char* cmd) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd, "r"), pclose);
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p.get())) > 0) out.append(buf, n);
  return out;
}

}  // namespace

bool kernel_pptp_helper_present(std::string* evidence) {
  // `nft list ct helpers` needs a table argument on older nft; the ruleset lists every ct helper object.
  std::string nft = run("nft list ruleset 2>/dev/null");
  if (nft.find("type \"pptp\"") != std::string::npos) {
    if (evidence) *evidence = "an nftables ct helper of type \"pptp\" (nft list ruleset)";
    return true;
  }
  std::string ipt = run("iptables-save 2>/dev/null");
  if (ipt.find("--helper pptp") != std::string::npos) {
    if (evidence) *evidence = "an iptables CT --helper pptp rule (iptables-save)";
    return true;
  }
  return false;
}

uint32_t udp_stream_timeout_ms() {
  std::ifstream f("/proc/sys/net/netfilter/nf_conntrack_udp_timeout_stream");
  unsigned long seconds = 0;
  if (!(f >> seconds) || seconds == 0 || seconds > 86400) return VPNPT_NATT_CT_TIMEOUT_MS_DEFAULT;
  return static_cast<uint32_t>(seconds * 1000);
}

Status ensure_conntrack_module() {
  struct stat st {};
  if (::stat("/sys/module/nf_conntrack", &st) == 0) return {};
  int rc = std::system("modprobe -q nf_conntrack >/dev/null 2>&1");
  if (rc == 0 && ::stat("/sys/module/nf_conntrack", &st) == 0) return {};
  return make_error(
      "the kernel's conntrack (nf_conntrack), which vpnpt's programs call, is not loaded and "
      "`modprobe nf_conntrack` failed; load it (or build it into the kernel) and retry");
}

}  // namespace vpnpt
