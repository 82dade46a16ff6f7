// Attaching an interface on its data path (native XDP or TC, as
// loader/dataplane/data_path.h decides), and moving it when its devices change: a veth
// peer gaining or losing GRO, a LAN device added to or leaving a bridge, a
// link going down. The daemon re-plans twice a second (reconcile).
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loader/dataplane/data_path.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/dataplane/programs.h"
#include "loader/core/result.h"

namespace vpnpt {

// One interface of an attachment.
struct IfaceWant {
  uint32_t ifindex;
  std::string name;
  uint32_t role;  // enum vpnpt_role
};

class PathAttacher {
 public:
  // Opens the programs against the pins in @pin_dir. The TC programs are
  // loaded at once (a move to TC must not wait for the verifier); @all
  // tells whether the WAN has an Ethernet header.
  static Result<PathAttacher> open(const std::string& pin_dir, LoadConfig cfg, ModeRequest mode,
                                   const std::vector<IfaceWant>& all);
  PathAttacher(PathAttacher&&) noexcept;
  PathAttacher& operator=(PathAttacher&&) noexcept;
  ~PathAttacher();

  // The path each interface of @all gets now.
  Result<std::vector<PathChoice>> plan(const std::vector<IfaceWant>& all);

  // Attaches @w on @c; native XDP that the driver refuses falls back to TC
  // in auto mode. Returns the record to store.
  Result<vpnpt_iface> attach(const IfaceWant& w, const PathChoice& c);

  // Re-plans @all and moves every interface whose path must change: the new
  // path is attached before the old one is removed, so no packet meets no
  // program. Updates the records in @maps and logs one line per move.
  // Returns how many interfaces moved.
  Result<uint32_t> reconcile(const std::vector<IfaceWant>& all, const PinnedMaps& maps);

 private:
  struct Programs;
  explicit PathAttacher(std::unique_ptr<Programs> p, ModeRequest mode);
  std::unique_ptr<Programs> p_;
  ModeRequest mode_;
};

// The attachment's interfaces as recorded in the pins (WAN first).
std::vector<IfaceWant> recorded_ifaces(const std::map<uint32_t, vpnpt_iface>& recs);

// "attached LAN program (id 12): lan0: TC path: ..." at info level.
void log_attached(const IfaceWant& w, const vpnpt_iface& v);

}  // namespace vpnpt
