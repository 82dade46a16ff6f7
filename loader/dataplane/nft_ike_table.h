// The nftables table that feeds IKE (UDP 500 crossing the WAN interface) to
// the daemon's netfilter queue: `table ip vpnpt_<wan>`, one base chain `ike`
// on the forward hook at priority filter - 10, two rules queueing with
// bypass. vpnpt owns the whole table, so it can recreate it atomically and
// tell at a glance whether a firewall reload (`flush ruleset`) removed it.
// Written through netlink (libnftnl + libmnl): no shell, no nft/iptables
// binary. docs/ipsec.md "The IKE queue" explains the choices.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loader/core/result.h"

namespace vpnpt {

// How the rules hand packets to the queue: the native nft `queue`
// expression, or, on kernels built without it (CONFIG_NFT_QUEUE unset), the
// xtables NFQUEUE target through nft_compat, as iptables-nft does.
enum class NftQueueForm { Native, Compat };
const char* queue_form_name(NftQueueForm form);

std::string ike_table_name(const std::string& wan);

// Creates (or recreates) the table in one netlink batch, so it appears whole
// or not at all; running it twice leaves one table. Tries the native form
// first, then the compat one; returns the form installed.
Result<NftQueueForm> install_ike_table(const std::string& wan, uint16_t queue);

// Deletes the table; a table already gone is not an error.
Status remove_ike_table(const std::string& wan);

// The table as the kernel has it, one readable line per object: the base
// chain first ("chain ike filter hook forward priority -10 policy accept"),
// then each rule ("oifname eth0 l4proto udp th dport 500 queue 30002
// bypass"). nullopt when the table does not exist.
Result<std::optional<std::vector<std::string>>> read_ike_table(const std::string& wan);

// What read_ike_table returns for a table install_ike_table made.
std::vector<std::string> expected_ike_table(const std::string& wan, uint16_t queue, NftQueueForm form);

}  // namespace vpnpt
