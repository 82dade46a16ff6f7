// nf_tables chains and rules as one short line of words each, close to
// nft's own syntax ("oifname eth0 l4proto udp th dport 500 queue 30002
// bypass"), for comparing what the kernel holds with what vpnpt wrote, and
// for the log when they differ. Covers the expressions vpnpt writes; any
// other shows as its name, which is enough to tell it is not ours.
#pragma once

#include <cstdint>
#include <string>

struct nftnl_chain;
struct nftnl_rule;

namespace vpnpt {

std::string describe_rule(const nftnl_rule* r);
// "chain ike filter hook forward priority -10 policy accept"
std::string describe_chain(const nftnl_chain* c);
// "queue 30002 bypass", "queue 30002-30005"
std::string queue_words(uint16_t num, uint16_t total, bool bypass);

}  // namespace vpnpt
