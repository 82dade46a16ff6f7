#include "loader/dataplane/nft_rule_text.h"

// Before the linux/ headers, which otherwise define struct in_addr first.
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>

#include <cstring>

extern "C" {
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
}

namespace vpnpt {
namespace {

// Register 1's content as the comparison that follows reads it.
std::string cmp_value(const nftnl_expr* e, const std::string& loaded) {
  uint32_t len = 0;
  const auto* d = static_cast<const uint8_t*>(nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len));
  std::string op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) == NFT_CMP_EQ ? "" : "!= ";
  if (!d) return loaded + " ?";
  if (loaded == "l4proto" && len == 1) return loaded + " " + op + (d[0] == IPPROTO_UDP ? "udp" : std::to_string(d[0]));
  if ((loaded == "th sport" || loaded == "th dport") && len == 2)
    return loaded + " " + op + std::to_string(d[0] << 8 | d[1]);
  if (loaded == "iifname" || loaded == "oifname")
    return loaded + " " + op +
           std::string(reinterpret_cast<const char*>(d), strnlen(reinterpret_cast<const char*>(d), len));
  return loaded + " " + op + "(" + std::to_string(len) + " bytes)";
}

std::string meta_key_name(uint32_t key) {
  switch (key) {
    case NFT_META_IIFNAME: return "iifname";
    case NFT_META_OIFNAME: return "oifname";
    case NFT_META_L4PROTO: return "l4proto";
    default: return "meta " + std::to_string(key);
  }
}

std::string payload_name(const nftnl_expr* e) {
  uint32_t base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE),
           off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET), len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);
  if (base == NFT_PAYLOAD_TRANSPORT_HEADER && len == 2 && (off == 0 || off == 2)) return off ? "th dport" : "th sport";
  return "payload " + std::to_string(base) + "/" + std::to_string(off) + "/" + std::to_string(len);
}

std::string target_words(const nftnl_expr* e) {
  std::string name = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME);
  uint32_t rev = nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV), len = 0;
  const void* d = nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len);
  if (name != "NFQUEUE" || rev != 3 || !d || len < sizeof(xt_NFQ_info_v3))
    return "target " + name + " rev " + std::to_string(rev);
  xt_NFQ_info_v3 info;
  std::memcpy(&info, d, sizeof(info));
  return queue_words(info.queuenum, info.queues_total, info.flags & NFQ_FLAG_BYPASS) + " xt";
}

}  // namespace

std::string queue_words(uint16_t num, uint16_t total, bool bypass) {
  return "queue " + std::to_string(num) + (total > 1 ? "-" + std::to_string(num + total - 1) : "") +
         (bypass ? " bypass" : "");
}

// One rule as words: "oifname eth0 l4proto udp th dport 500 queue 30002 bypass".
std::string describe_rule(const nftnl_rule* r) {
  std::string words, loaded;
  auto add = [&words](const std::string& w) { words += (words.empty() ? "" : " ") + w; };
  nftnl_expr_iter* it = nftnl_expr_iter_create(r);
  for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it)) {
    std::string kind = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    if (kind == "meta")
      loaded = meta_key_name(nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY));
    else if (kind == "payload")
      loaded = payload_name(e);
    else if (kind == "cmp")
      add(cmp_value(e, loaded));
    else if (kind == "queue")
      add(queue_words(nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_NUM), nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_TOTAL),
                      nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_FLAGS) & NFT_QUEUE_FLAG_BYPASS));
    else if (kind == "target")
      add(target_words(e));
    else
      add(kind);
  }
  nftnl_expr_iter_destroy(it);
  return words;
}

std::string describe_chain(const nftnl_chain* c) {
  auto s = [c](uint16_t a) { return nftnl_chain_is_set(c, a) ? std::string(nftnl_chain_get_str(c, a)) : "?"; };
  std::string hook = "none";
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
    hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) == NF_INET_FORWARD
               ? "forward"
               : std::to_string(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM));
  uint32_t policy = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) ? nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) : NF_ACCEPT;
  return "chain " + s(NFTNL_CHAIN_NAME) + " " + s(NFTNL_CHAIN_TYPE) + " hook " + hook + " priority " +
         std::to_string(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO)) + " policy " +
         (policy == NF_ACCEPT ? "accept" : "drop");
}
}  // namespace vpnpt
