# Read by cpack when it packages (CPACK_PROJECT_CONFIG_FILE): the version
# of the tree at that moment (packaging/version.cmake), and a refusal to
# package a server without its dashboard.
include("${CMAKE_CURRENT_LIST_DIR}/version.cmake")
picloud_package_version("${CPACK_PICLOUD_SOURCE_DIR}" "${CPACK_PICLOUD_PROJECT_VERSION}" _picloud_version _picloud_date)
set(CPACK_PACKAGE_VERSION "${_picloud_version}")
set(CPACK_DEBIAN_PACKAGE_VERSION "${_picloud_version}")

# The dashboard is compiled in when dashboard/dist was built before the
# binary (./dev does it; PICLOUD_SKIP_DASHBOARD=1 skips it, for tests only).
if(EXISTS "${CPACK_PICLOUD_DASHBOARD_SOURCE}")
  file(STRINGS "${CPACK_PICLOUD_DASHBOARD_SOURCE}" _picloud_embedded REGEX "picloud_dashboard_file_0" LIMIT_COUNT 1)
endif()
if(NOT _picloud_embedded)
  message(FATAL_ERROR "this build's picloud has no dashboard compiled in (dashboard/dist was not built, e.g. "
                      "PICLOUD_SKIP_DASHBOARD=1): a package must hold it; build with ./dev package")
endif()
