// systemd's service notifications (sd_notify(3)) without libsystemd: one
// datagram to the socket in $NOTIFY_SOCKET. Under systemd with Type=notify the
// daemon says READY=1 once it is attached and serving, RELOADING=1/READY=1
// around a SIGHUP reload, STOPPING=1 when it stops, and WATCHDOG=1 while its
// loop runs. Outside systemd every call does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace vpnpt {

// Sends @state ("READY=1", "WATCHDOG=1", ...). False: no $NOTIFY_SOCKET, or sending failed.
bool sd_notify_state(const std::string& state);

// The watchdog interval systemd expects pings within ($WATCHDOG_USEC, when
// $WATCHDOG_PID is unset or this process), or nullopt when there is no watchdog.
std::optional<std::chrono::microseconds> sd_watchdog_interval();

}  // namespace vpnpt
