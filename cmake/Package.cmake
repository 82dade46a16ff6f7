# The Debian package: `cmake --build build --target package` (or cpack in
# build/) writes vpnpt_<version>_<arch>.deb with what cmake/Install.cmake
# installs, under /usr and /etc. Depends comes from the binary's shared
# libraries (dpkg-shlibdeps): libbpf1, libxdp1, libnetfilter-queue1, ...
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vpnpt)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "XDP-accelerated VPN passthrough (PPTP, IPsec, L2TP) for Linux NAT gateways")
set(CPACK_PACKAGE_DESCRIPTION
  "eBPF programs on a router's LAN and WAN interfaces translate GRE Call IDs, ESP SPIs and L2TP Tunnel IDs, so that many LAN hosts behind one public address reach the same VPN servers; a daemon attaches them and runs the control slow paths.")
set(VPNPT_PACKAGE_MAINTAINER "vpnpt maintainers <maintainers@users.noreply.h-seed-0643bb95.example>"
  CACHE STRING "The Debian package's Maintainer field")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${VPNPT_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The build keeps debug info (RelWithDebInfo); the package does not need it.
set(CPACK_STRIP_FILES ON)
# Install with DESTDIR and the prefix /usr, so cmake/InstallPrefixed.cmake
# writes /usr/sbin/vpnpt into the unit and puts the config in /etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# The config is a conffile: dpkg keeps an admin's edits on upgrade and
# removes it only on purge.
file(WRITE ${CMAKE_BINARY_DIR}/debian/conffiles "/etc/vpnpt/vpnpt.conf\n")
# Maintainer scripts (tools/debian/): systemd reloads the unit, an upgrade
# restarts a running vpnpt (in place, sessions kept), a removal detaches.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/debian/conffiles
  ${CMAKE_SOURCE_DIR}/tools/debian/postinst ${CMAKE_SOURCE_DIR}/tools/debian/prerm
  ${CMAKE_SOURCE_DIR}/tools/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
