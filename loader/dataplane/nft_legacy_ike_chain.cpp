#include "loader/dataplane/nft_legacy_ike_chain.h"

#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
}

#include "loader/dataplane/nft_netlink.h"
#include "loader/dataplane/nft_objects.h"

namespace vpnpt {
namespace {

constexpr const char* kTable = "filter";
const std::string kForward = "FORWARD";

bool jumps_to(const nftnl_rule* r, const std::string& chain) {
  bool found = false;
  nftnl_expr_iter* it = nftnl_expr_iter_create(r);
  for (nftnl_expr* e = nftnl_expr_iter_next(it); e && !found; e = nftnl_expr_iter_next(it))
    found = std::strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "immediate") == 0 &&
            nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN) && chain == nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN);
  nftnl_expr_iter_destroy(it);
  return found;
}

Error legacy_error(const std::string& chain, int err) {
  return make_error("cannot remove the IKE queue chain " + chain +
                    " an earlier vpnpt left in table ip filter: " + std::strerror(err) +
                    " (remove it by hand: iptables -D FORWARD -j " + chain + "; iptables -X " + chain + ")");
}

}  // namespace

Result<bool> remove_legacy_ike_chain(const std::string& wan) {
  std::string chain = "VPNPT_" + wan;
  auto nl = NftNetlink::open();
  if (!nl) return nl.error();
  int err = nl->request(get_msg(NFT_MSG_GETCHAIN, 0, kTable, chain), nullptr);
  if (err == ENOENT) return false;  // no table filter, or no such chain in it: nothing left behind
  if (err) return legacy_error(chain, err);
  std::vector<uint64_t> jumps;  // rule handles
  err = nl->request(get_msg(NFT_MSG_GETRULE, NLM_F_DUMP, kTable), [&jumps, &chain](const nlmsghdr* nlh) {
    RulePtr r(nftnl_rule_alloc());
    if (nftnl_rule_nlmsg_parse(nlh, r.get()) == 0 && nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN) == kForward &&
        jumps_to(r.get(), chain))
      jumps.push_back(nftnl_rule_get_u64(r.get(), NFTNL_RULE_HANDLE));
  });
  if (err && err != ENOENT) return legacy_error(chain, err);
  // The jumps first: a chain something jumps to cannot be deleted. Deleting
  // the chain deletes its rules.
  std::vector<RulePtr> rules;
  std::vector<NftNetlink::Build> msgs;
  for (uint64_t handle : jumps) {
    rules.emplace_back(nftnl_rule_alloc());
    nftnl_rule_set_str(rules.back().get(), NFTNL_RULE_TABLE, kTable);
    nftnl_rule_set_str(rules.back().get(), NFTNL_RULE_CHAIN, kForward.c_str());
    nftnl_rule_set_u64(rules.back().get(), NFTNL_RULE_HANDLE, handle);
    msgs.push_back(rule_msg(rules.back().get(), NFT_MSG_DELRULE, 0));
  }
  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, kTable);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.c_str());
  msgs.push_back(chain_msg(c.get(), NFT_MSG_DELCHAIN, 0));
  err = nl->transact(msgs);
  if (err) return legacy_error(chain, err);
  return true;
}

}  // namespace vpnpt
