#include "loader/dataplane/data_path.h"

#include "loader/core/netif.h"
#include "loader/dataplane/tc_attach.h"

namespace vpnpt {

namespace {

bool forwards_to(uint32_t from_role, uint32_t to_role) {
  return (from_role == VPNPT_ROLE_WAN) != (to_role == VPNPT_ROLE_WAN);
}

PathChoice tc_because(uint32_t why, uint32_t ifindex = 0) {
  PathChoice c;
  c.mode = VPNPT_MODE_TC;
  c.why = why;
  c.why_ifindex = ifindex;
  return c;
}

}  // namespace

std::vector<PathChoice> choose_paths(ModeRequest req, const std::vector<LinkFacts>& facts,
                                     const std::vector<uint32_t>& roles) {
  std::vector<PathChoice> out(facts.size());
  if (req != ModeRequest::Auto) {
    for (auto& c : out)
      c.mode = req == ModeRequest::Tc ? VPNPT_MODE_TC : req == ModeRequest::Skb ? VPNPT_MODE_SKB : VPNPT_MODE_NATIVE;
    return out;
  }
  for (size_t i = 0; i < facts.size(); ++i) {
    if (!facts[i].has_l2) {
      out[i] = tc_because(VPNPT_WHY_NO_L2);
      continue;
    }
    // XDP cannot tell a partial checksum from a complete one (no ip_summed):
    // such an interface's translations need the skb (docs/dataplane.md, "Checksums").
    if (partial_csum_ingress(facts[i]).possible) {
      out[i] = tc_because(VPNPT_WHY_PARTIAL_CSUM, facts[i].ifindex);
      continue;
    }
    out[i].mode = VPNPT_MODE_NATIVE;  // the attach tells whether the driver runs it (else VPNPT_WHY_NO_NATIVE)
    out[i].why = VPNPT_WHY_XDP_OK;
    for (size_t j = 0; j < facts.size(); ++j) {
      if (j == i || !forwards_to(roles[i], roles[j])) continue;
      XdpTarget x = xdp_can_receive_redirect(facts[j]);
      if (!x.ok) {
        out[i] = tc_because(VPNPT_WHY_TARGET, facts[j].ifindex);
        break;
      }
    }
  }
  // Most physical drivers transmit XDP frames only while an XDP program of
  // their own runs (a veth needs its peer's instead): an interface on the TC
  // path is no XDP target. Settles within one pass per interface.
  for (size_t round = 0; round < facts.size(); ++round) {
    bool changed = false;
    for (size_t i = 0; i < facts.size(); ++i) {
      if (out[i].mode != VPNPT_MODE_NATIVE) continue;
      for (size_t j = 0; j < facts.size(); ++j) {
        if (j == i || !forwards_to(roles[i], roles[j]) || out[j].mode != VPNPT_MODE_TC || facts[j].kind == "veth")
          continue;
        out[i] = tc_because(VPNPT_WHY_TARGET, facts[j].ifindex);
        changed = true;
        break;
      }
    }
    if (!changed) break;
  }
  return out;
}

const char* path_title(uint32_t mode) {
  switch (mode) {
    case VPNPT_MODE_NATIVE: return "XDP native";
    case VPNPT_MODE_SKB: return "XDP generic";
    case VPNPT_MODE_TC: return "TC path";
    default: return "unknown path";
  }
}

namespace {

std::string why_text(uint32_t why, uint32_t why_ifindex, const std::string& detail) {
  switch (why) {
    case VPNPT_WHY_XDP_OK: return "every device it forwards to takes XDP frames";
    case VPNPT_WHY_REQUESTED: return "asked for (--mode)";
    case VPNPT_WHY_NO_NATIVE: return "the driver has no native XDP";
    case VPNPT_WHY_NO_L2: return "no Ethernet header (an L3 device)";
    case VPNPT_WHY_TARGET:
      return ifname_of(why_ifindex) + " cannot transmit XDP frames" + (detail.empty() ? "" : " (" + detail + ")");
    case VPNPT_WHY_PARTIAL_CSUM:
      return "it may receive partial checksums, which XDP cannot tell apart" +
             (detail.empty() ? "" : " (" + detail + ")");
    default: return "unknown reason";
  }
}

}  // namespace

std::string describe_path(const std::string& ifname, const vpnpt_iface& rec) {
  std::string detail;
  if (rec.why == VPNPT_WHY_TARGET) {
    // The reason as it is now (the record keeps only the device).
    if (auto f = link_facts(rec.why_ifindex)) {
      XdpTarget x = xdp_can_receive_redirect(*f);
      // A device that could take XDP frames but is on the TC path itself has no XDP program to send them with.
      detail = x.ok ? "runs no XDP program of its own" : x.why;
    }
  } else if (rec.why == VPNPT_WHY_PARTIAL_CSUM) {
    if (auto f = link_facts(rec.why_ifindex)) detail = partial_csum_ingress(*f).why;
  }
  return ifname + ": " + path_title(rec.xdp_mode) + ": " + why_text(rec.why, rec.why_ifindex, detail);
}

bool path_attached(uint32_t ifindex, const vpnpt_iface& rec) {
  if (rec.xdp_mode == VPNPT_MODE_TC) return tc_prog_attached(ifindex, rec.prog_id);
  return xdp_prog_attached(ifindex, rec.prog_id);
}

Status detach_path(uint32_t ifindex, const vpnpt_iface& rec) {
  if (rec.xdp_mode == VPNPT_MODE_TC) return tc_detach_prog(ifindex, rec.prog_id);
  return xdp_detach_prog(ifindex, rec.prog_id);
}

}  // namespace vpnpt
