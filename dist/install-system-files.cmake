# Run by `cmake --install` and cpack (dist/CMakeLists.txt sets the RG_*
# variables): installs the systemd unit and the config where this install's
# prefix puts them, and writes that prefix's paths into the unit.
#   prefix /usr (the package): /usr/sbin/relayguard, /etc/relayguard,
#                              the unit in systemd's directory (/lib/systemd/system)
#   any other prefix P:        P/sbin/relayguard, P/etc/relayguard,
#                              the unit in P/lib/systemd/system (systemd reads
#                              /usr/local/lib/systemd/system)
# dist/relayguard.service is written for the package, so it stays a unit that
# `systemd-analyze verify` can read as it is.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(conf_dir /etc/relayguard)
  set(unit_dir ${RG_SYSTEMD_UNIT_DIR})
else()
  set(conf_dir ${CMAKE_INSTALL_PREFIX}/etc/relayguard)
  set(unit_dir ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()
if(RG_UNIT_DIR_OVERRIDE)
  set(unit_dir ${RG_UNIT_DIR_OVERRIDE})
endif()
if(IS_ABSOLUTE "${RG_SBINDIR}")
  set(sbin_dir ${RG_SBINDIR})
else()
  set(sbin_dir ${CMAKE_INSTALL_PREFIX}/${RG_SBINDIR})
endif()

file(READ ${RG_DIST_DIR}/relayguard.service unit)
string(REPLACE "/usr/sbin/relayguard" "${sbin_dir}/relayguard" unit "${unit}")
string(REPLACE "/etc/relayguard/" "${conf_dir}/" unit "${unit}")
file(MAKE_DIRECTORY ${RG_STAGE_DIR}/unit)
file(WRITE ${RG_STAGE_DIR}/unit/relayguard.service "${unit}")

file(INSTALL ${RG_STAGE_DIR}/unit/relayguard.service DESTINATION ${unit_dir}
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# The commented config, as shipped: the package marks it a conffile, so an
# upgrade never overwrites the operator's edits.
file(INSTALL ${RG_DIST_DIR}/relayguard.conf DESTINATION ${conf_dir}
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
