// The IKE queue of earlier vpnpt builds: iptables chain VPNPT_<wan> in
// table ip filter, jumped to from FORWARD. On an upgrade it would still be
// there, and would queue every IKE packet a second time after the verdict
// on the first. With iptables-nft (Debian's default) it lives in nf_tables,
// so it is removed over netlink like the rest; with iptables-legacy it is
// out of reach and stays (docs/ipsec.md says how to remove it by hand).
#pragma once

#include <string>

#include "loader/core/result.h"

namespace vpnpt {

// Deletes the FORWARD rules that jump to VPNPT_<wan>, and the chain, in one
// batch. True if there was something to delete.
Result<bool> remove_legacy_ike_chain(const std::string& wan);

}  // namespace vpnpt
