#include "loader/kernel_helpers.h"

#include <cstdio>
#include <memory>

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

}  // namespace vpnpt
