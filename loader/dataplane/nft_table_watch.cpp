#include "loader/dataplane/nft_table_watch.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "loader/dataplane/nft_netlink.h"

namespace vpnpt {

NftTableWatch::NftTableWatch(std::unique_ptr<NftNetlink> nl, std::string table)
    : nl_(std::move(nl)), table_(std::move(table)) {}
NftTableWatch::NftTableWatch(NftTableWatch&&) noexcept = default;
NftTableWatch::~NftTableWatch() = default;

Result<NftTableWatch> NftTableWatch::open(std::string table) {
  auto nl = NftNetlink::open_monitor();
  if (!nl) return nl.error();
  return NftTableWatch(std::make_unique<NftNetlink>(std::move(*nl)), std::move(table));
}

int NftTableWatch::fd() const { return nl_->fd(); }

bool NftTableWatch::touched() {
  bool ours = false;
  nl_->drain([this, &ours](const nlmsghdr* nlh) {
    if (!nlh) {  // notifications lost
      ours = true;
      return;
    }
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES) return;
    switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
      case NFT_MSG_NEWTABLE:
      case NFT_MSG_DELTABLE:
      case NFT_MSG_NEWCHAIN:
      case NFT_MSG_DELCHAIN:
      case NFT_MSG_NEWRULE:
      case NFT_MSG_DELRULE: break;
      default: return;  // set elements, objects, generations: not ours to watch
    }
    if (static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family != NFPROTO_IPV4) return;
    // The table's name is attribute 1 in all three (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE).
    auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
    auto* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
    for (; mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a))); a = mnl_attr_next(a))
      if (mnl_attr_get_type(a) == NFTA_TABLE_NAME && table_ == mnl_attr_get_str(a)) ours = true;
  });
  return ours;
}

}  // namespace vpnpt
