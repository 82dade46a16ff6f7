# What `cmake --install` puts where (FHS places; GNUInstallDirs names them):
#   <prefix>/sbin/vpnpt, <prefix>/lib/systemd/system/vpnpt.service,
#   <prefix>/share/man/man8/vpnpt.8, man5/vpnpt.conf.5,
#   <prefix>/share/bash-completion/completions/vpnpt,
#   /etc/vpnpt/vpnpt.conf for the /usr prefix (<prefix>/etc/... otherwise).
# The unit and the config depend on the prefix the install runs with, which
# cpack sets to /usr whatever the build was configured with: they are
# written at install time (cmake/InstallPrefixed.cmake).
include(GNUInstallDirs)

install(TARGETS vpnpt RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(FILES ${VPNPT_DOCS_DIR}/vpnpt.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${VPNPT_DOCS_DIR}/vpnpt.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${VPNPT_DOCS_DIR}/vpnpt.bash-completion
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME vpnpt)
install(CODE "set(VPNPT_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
set(VPNPT_BINARY_DIR \"${CMAKE_BINARY_DIR}\")
set(VPNPT_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")")
install(SCRIPT ${CMAKE_SOURCE_DIR}/cmake/InstallPrefixed.cmake)
