// libnftnl objects owned by smart pointers, and the netlink messages that
// carry them (family ip), for NftNetlink::transact and request.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "loader/dataplane/nft_netlink.h"

struct nftnl_chain;
struct nftnl_rule;
struct nftnl_table;

namespace vpnpt {

struct NftTableFree {
  void operator()(nftnl_table* t) const;
};
struct NftChainFree {
  void operator()(nftnl_chain* c) const;
};
struct NftRuleFree {
  void operator()(nftnl_rule* r) const;
};
using TablePtr = std::unique_ptr<nftnl_table, NftTableFree>;
using ChainPtr = std::unique_ptr<nftnl_chain, NftChainFree>;
using RulePtr = std::unique_ptr<nftnl_rule, NftRuleFree>;

TablePtr table_named(const std::string& name);

// A message of @type with the object as its payload. The object must outlive the call that sends it.
NftNetlink::Build table_msg(const nftnl_table* t, uint16_t type, uint16_t flags);
NftNetlink::Build chain_msg(const nftnl_chain* c, uint16_t type, uint16_t flags);
NftNetlink::Build rule_msg(nftnl_rule* r, uint16_t type, uint16_t flags);

// A get (or, with NLM_F_DUMP, a dump) request: GETTABLE @table, GETCHAIN
// @chain of @table, or GETRULE of @table.
NftNetlink::Build get_msg(uint16_t type, uint16_t flags, const std::string& table, const std::string& chain = "");

}  // namespace vpnpt
