// Attaching vpnpt to a router's interfaces, adopting a live attachment
// after a daemon restart, and detaching it without leaving anything behind.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loader/core/attachment_id.h"
#include "loader/dataplane/path_attach.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/dataplane/programs.h"
#include "loader/core/result.h"
#include "loader/dataplane/xdp_attach.h"

namespace vpnpt {

struct AttachRequest {
  std::string wan;
  std::vector<std::string> lans;
  std::optional<uint32_t> public_ip;  // network byte order; default: WAN's primary IPv4
  ModeRequest mode = ModeRequest::Auto;
  LoadConfig load;
  // Runs on the pinned maps after the config is written, before any interface is attached
  // (attach --restore writes the sessions of a state file here); an error stops the attach.
  std::function<Status(const PinnedMaps&)> before_attach;
};

struct Attached {
  AttachmentId id;
  bool adopted = false;  // true when the data plane was already running and kept
  PinnedMaps maps;
  std::unique_ptr<PathAttacher> paths;  // the programs of both paths, for moves while the daemon runs
};

// Attaches, or adopts what a previous daemon left running (the pinned
// maps and attached programs are kept, so no session is lost).
Result<Attached> attach_or_adopt(const AttachRequest& req);

// Removes vpnpt's programs from every interface of the attachment and
// deletes its pins. Stops a running daemon first.
Status detach(const AttachmentId& id);

// Requires root; the error says what to do.
Status require_root(const char* command);

}  // namespace vpnpt
