#include "loader/dataplane/nft_objects.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

extern "C" {
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
}

namespace vpnpt {

void NftTableFree::operator()(nftnl_table* t) const { nftnl_table_free(t); }
void NftChainFree::operator()(nftnl_chain* c) const { nftnl_chain_free(c); }
void NftRuleFree::operator()(nftnl_rule* r) const { nftnl_rule_free(r); }

TablePtr table_named(const std::string& name) {
  TablePtr t(nftnl_table_alloc());
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name.c_str());
  return t;
}

NftNetlink::Build table_msg(const nftnl_table* t, uint16_t type, uint16_t flags) {
  return [t, type, flags](char* buf, uint32_t seq) {
    nlmsghdr* nlh = nftnl_table_nlmsg_build_hdr(buf, type, NFPROTO_IPV4, flags, seq);
    nftnl_table_nlmsg_build_payload(nlh, t);
    return nlh;
  };
}

NftNetlink::Build chain_msg(const nftnl_chain* c, uint16_t type, uint16_t flags) {
  return [c, type, flags](char* buf, uint32_t seq) {
    nlmsghdr* nlh = nftnl_chain_nlmsg_build_hdr(buf, type, NFPROTO_IPV4, flags, seq);
    nftnl_chain_nlmsg_build_payload(nlh, c);
    return nlh;
  };
}

NftNetlink::Build rule_msg(nftnl_rule* r, uint16_t type, uint16_t flags) {
  return [r, type, flags](char* buf, uint32_t seq) {
    nlmsghdr* nlh = nftnl_rule_nlmsg_build_hdr(buf, type, NFPROTO_IPV4, flags, seq);
    nftnl_rule_nlmsg_build_payload(nlh, r);
    return nlh;
  };
}

NftNetlink::Build get_msg(uint16_t type, uint16_t flags, const std::string& table, const std::string& chain) {
  return [type, flags, table, chain](char* buf, uint32_t seq) {
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_IPV4, flags, seq);
    if (type == NFT_MSG_GETTABLE) {
      mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table.c_str());
    } else if (type == NFT_MSG_GETCHAIN) {
      mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table.c_str());
      mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, chain.c_str());
    } else {
      mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table.c_str());
    }
    return nlh;
  };
}

}  // namespace vpnpt
