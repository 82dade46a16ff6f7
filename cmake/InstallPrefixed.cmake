# Runs at install time (cmake/Install.cmake), when CMAKE_INSTALL_PREFIX is
# the prefix this install uses: the systemd unit gets the installed binary's
# and config's paths, and the example config becomes the config.

if(IS_ABSOLUTE "${VPNPT_SBINDIR}")
  set(VPNPT_BINARY "${VPNPT_SBINDIR}/vpnpt")
else()
  set(VPNPT_BINARY "${CMAKE_INSTALL_PREFIX}/${VPNPT_SBINDIR}/vpnpt")
endif()
# GNUInstallDirs' rule: the /usr prefix keeps its configuration in /etc.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc_dir "/etc/vpnpt")
else()
  set(etc_dir "${CMAKE_INSTALL_PREFIX}/etc/vpnpt")
endif()
set(VPNPT_CONFIG "${etc_dir}/vpnpt.conf")

configure_file("${VPNPT_SOURCE_DIR}/tools/vpnpt.service.in" "${VPNPT_BINARY_DIR}/install/vpnpt.service" @ONLY)
file(INSTALL "${VPNPT_BINARY_DIR}/install/vpnpt.service" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")

# An admin's edited config is never overwritten (the package's conffile
# handling does the same on upgrades).
if(EXISTS "$ENV{DESTDIR}${VPNPT_CONFIG}")
  message(STATUS "Keeping: $ENV{DESTDIR}${VPNPT_CONFIG} (exists; the example is tools/vpnpt.conf.example)")
else()
  file(INSTALL "${VPNPT_SOURCE_DIR}/tools/vpnpt.conf.example" DESTINATION "${etc_dir}" RENAME vpnpt.conf)
endif()
