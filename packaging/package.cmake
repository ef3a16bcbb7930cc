# PiCloud's Debian packages, made by CPack from this build's install rules:
#
#   picloud      the server: /usr/bin/picloud (the dashboard compiled in), the
#                built-in plugins and the PostgreSQL module in /usr/lib/picloud,
#                the migrations in /usr/share/picloud, /etc/picloud/picloud.ini
#                (a conffile), the systemd unit, and maintainer scripts that
#                make the picloud system user and /var/lib/picloud
#   picloud-dev  the SDK for third-party plugins: the headers and the CMake
#                package (find_package(PiCloudSDK)); header-only, so
#                Architecture: all
#
# `./dev package [--arch arm64]` builds them and runs lintian;
# `cpack -G DEB` in any configured build tree packages what it has built.
#
# Why CPack and not debian/ with debhelper: the packages are made from the
# same install rules `cmake --install` and the SDK's CMake export use, so
# what is installed is described once; and a build tree that is already
# built (the one the tests ran against, or a cross build) is packaged in
# seconds without building again, which is what lets the package test run
# with every `./dev test`. What debhelper would add is written here
# instead: dependencies from dpkg-shlibdeps (CPACK_DEBIAN_*_SHLIBDEPS),
# conffiles, stripped binaries, the maintainer scripts that
# dh_installsystemd writes (packaging/postinst, prerm, postrm), the
# changelogs and the copyright file.

include(${CMAKE_CURRENT_LIST_DIR}/version.cmake)

set(PICLOUD_DEB_MAINTAINER "PiCloud maintainers <maintainers@picloud.invalid>" CACHE STRING
    "the Maintainer field of the Debian packages (set your own when you distribute them)")
# The Debian architecture of what this tree builds: dpkg's own, unless a
# cross toolchain file (packaging/arm64-toolchain.cmake) says otherwise.
if(NOT PICLOUD_DEB_ARCHITECTURE)
  find_program(PICLOUD_DPKG dpkg)
  if(PICLOUD_DPKG)
    execute_process(COMMAND ${PICLOUD_DPKG} --print-architecture OUTPUT_VARIABLE PICLOUD_DEB_ARCHITECTURE
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
  endif()
endif()

set(_pkg_src ${CMAKE_CURRENT_LIST_DIR})
set(_pkg_gen ${CMAKE_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${_pkg_gen})

# --- /etc/picloud/picloud.ini: config/picloud.ini with a packaged install's paths
# Made from the one commented config, so the two never drift: each line
# changed must be found, or the configuration stops here.
file(READ ${PROJECT_SOURCE_DIR}/config/picloud.ini _ini)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/config/picloud.ini)
foreach(_change IN ITEMS
    "data_dir = ./data|data_dir = /var/lib/picloud"
    "; url = sqlite:./data/picloud.db|; url = sqlite:/var/lib/picloud/picloud.db"
    "; key_file = ./data/keyring.keys|; key_file = /var/lib/picloud/keyring.keys"
    "; Created owner-only (0700, files 0600); relative to the working directory.|; Created owner-only (0700, files 0600), owned by the picloud user.")
  string(REPLACE "|" ";" _change "${_change}")
  list(GET _change 0 _from)
  list(GET _change 1 _to)
  string(FIND "${_ini}" "${_from}" _at)
  if(_at EQUAL -1)
    message(FATAL_ERROR "packaging/package.cmake: config/picloud.ini no longer has the line '${_from}' "
                        "that the packaged config changes to '${_to}'; update the list")
  endif()
  string(REPLACE "${_from}" "${_to}" _ini "${_ini}")
endforeach()
string(REPLACE "; PiCloud configuration.\n" "; PiCloud configuration, as the picloud package installs it: the\n; service (picloud.service) reads it; run commands with the same file as\n; the picloud user: sudo -u picloud picloud --config /etc/picloud/picloud.ini ...\n" _ini "${_ini}")
file(WRITE ${_pkg_gen}/picloud.ini "${_ini}")

# --- copyright: PiCloud's, and the dashboard's packages compiled into the binary
set(_bundled "")
set(_lock ${PROJECT_SOURCE_DIR}/dashboard/package-lock.json)
if(EXISTS ${_lock})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_lock})
  file(READ ${_lock} _lock_json)
  string(JSON _packages GET "${_lock_json}" packages)
  string(JSON _count LENGTH "${_packages}")
  math(EXPR _last "${_count} - 1")
  foreach(_i RANGE ${_last})
    string(JSON _path MEMBER "${_packages}" ${_i})
    if(_path STREQUAL "")
      continue()
    endif()
    string(JSON _dev ERROR_VARIABLE _no_dev GET "${_packages}" "${_path}" dev)
    if(_dev STREQUAL "ON" OR _dev STREQUAL "true")
      continue()
    endif()
    string(JSON _ver GET "${_packages}" "${_path}" version)
    string(JSON _lic ERROR_VARIABLE _no_lic GET "${_packages}" "${_path}" license)
    string(REGEX REPLACE "^.*node_modules/" "" _name "${_path}")
    set(_holder "its authors")
    file(GLOB _license_files ${PROJECT_SOURCE_DIR}/dashboard/${_path}/LICENSE*)
    if(_license_files)
      list(GET _license_files 0 _license_file)
      file(STRINGS ${_license_file} _line REGEX "[Cc]opyright" LIMIT_COUNT 1)
      if(_line)
        string(REGEX REPLACE "^[ \t]*[Cc]opyright[ \t]*(\\([Cc]\\))?[ \t]*" "" _holder "${_line}")
      endif()
    endif()
    string(APPEND _bundled "\nFiles: dashboard/node_modules/${_name}/*\nComment: ${_name} ${_ver}, compiled into /usr/bin/picloud with the dashboard\nCopyright: ${_holder}\nLicense: ${_lic}\n")
  endforeach()
endif()
file(READ ${_pkg_src}/copyright.in _copyright)
file(WRITE ${_pkg_gen}/picloud-dev.copyright "${_copyright}")
file(READ ${_pkg_src}/copyright-mit.in _mit)
file(WRITE ${_pkg_gen}/picloud.copyright "${_copyright}${_bundled}\n${_mit}")

# --- the picloud package's own files (never part of a plain `cmake --install`)
install(FILES ${_pkg_gen}/picloud.ini DESTINATION /etc/picloud COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${_pkg_src}/picloud.service DESTINATION /lib/systemd/system COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${_pkg_gen}/picloud.copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/picloud
        RENAME copyright COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${_pkg_src}/lintian/picloud DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
        COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${_pkg_gen}/picloud-dev.copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/picloud-dev
        RENAME copyright COMPONENT debdev EXCLUDE_FROM_ALL)
install(FILES ${_pkg_src}/lintian/picloud-dev DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
        COMPONENT debdev EXCLUDE_FROM_ALL)
# The changelogs, compressed as Debian wants them (gzip -9n: no name, no
# time), and the manual page: written when packaging, since the version is
# the tree's at that moment.
foreach(_comp_pkg IN ITEMS "deb|picloud" "debdev|picloud-dev")
  string(REPLACE "|" ";" _comp_pkg "${_comp_pkg}")
  list(GET _comp_pkg 0 _comp)
  list(GET _comp_pkg 1 _pkg)
  install(CODE "
    include(\"${_pkg_src}/version.cmake\")
    picloud_package_version(\"${PROJECT_SOURCE_DIR}\" \"${PROJECT_VERSION}\" _v _d)
    set(_doc \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/doc/${_pkg}\")
    file(MAKE_DIRECTORY \"\${_doc}\")
    file(WRITE \"\${_doc}/changelog.Debian\" \"${_pkg} (\${_v}-1) unstable; urgency=medium\\n\\n  * PiCloud \${_v}, packaged from its source tree;\\n    what changed is in /usr/share/doc/${_pkg}/changelog.gz.\\n\\n -- ${PICLOUD_DEB_MAINTAINER}  \${_d}\\n\")
    file(COPY_FILE \"${PROJECT_SOURCE_DIR}/CHANGELOG.md\" \"\${_doc}/changelog\")
    foreach(_f changelog.Debian changelog)
      file(REMOVE \"\${_doc}/\${_f}.gz\")
      execute_process(COMMAND gzip -9n \"\${_doc}/\${_f}\" RESULT_VARIABLE _rc)
      if(NOT _rc EQUAL 0)
        message(FATAL_ERROR \"gzip -9n \${_doc}/\${_f} failed\")
      endif()
      file(CHMOD \"\${_doc}/\${_f}.gz\" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    endforeach()
  " COMPONENT ${_comp} EXCLUDE_FROM_ALL)
endforeach()
install(CODE "
  set(_man \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_MANDIR}/man1\")
  file(MAKE_DIRECTORY \"\${_man}\")
  configure_file(\"${_pkg_src}/picloud.1\" \"\${_man}/picloud.1\" COPYONLY)
  file(REMOVE \"\${_man}/picloud.1.gz\")
  execute_process(COMMAND gzip -9n \"\${_man}/picloud.1\")
  file(CHMOD \"\${_man}/picloud.1.gz\" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
" COMPONENT deb EXCLUDE_FROM_ALL)

# Stripped as dh_strip strips: besides the symbols (CPACK_STRIP_FILES),
# the compiler's .comment and .note sections. Only when installing stripped.
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    file(GLOB_RECURSE _elf \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/picloud/*.so\")
    foreach(_f \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/picloud\" \${_elf})
      execute_process(COMMAND \"${CMAKE_STRIP}\" --remove-section=.comment --remove-section=.note \"\${_f}\"
                      RESULT_VARIABLE _rc)
      if(NOT _rc EQUAL 0)
        message(FATAL_ERROR \"${CMAKE_STRIP} --remove-section=.comment failed on \${_f}\")
      endif()
    endforeach()
  endif()
" COMPONENT server)

# --- CPack ----------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME picloud)
set(CPACK_PACKAGE_VENDOR PiCloud)
set(CPACK_PACKAGE_CONTACT "${PICLOUD_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PICLOUD_DEB_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)
set(CPACK_COMPONENTS_ALL server deb sdk debdev)
set(CPACK_COMPONENT_SERVER_GROUP runtime)
set(CPACK_COMPONENT_DEB_GROUP runtime)
set(CPACK_COMPONENT_SDK_GROUP dev)
set(CPACK_COMPONENT_DEBDEV_GROUP dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME picloud)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_ARCHITECTURE ${PICLOUD_DEB_ARCHITECTURE})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
# The libraries from dpkg-shlibdeps; adduser for the maintainer scripts;
# tzdata for cron triggers' time zones (read at run time); the CA
# certificates for the http and email plugins' TLS.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "adduser, tzdata")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_RECOMMENDS "ca-certificates")
# postgresql-client: pg_dump and pg_restore, for picloud backup and restore on PostgreSQL.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "postgresql, postgresql-client, nginx")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
    ${_pkg_src}/conffiles ${_pkg_src}/postinst ${_pkg_src}/prerm ${_pkg_src}/postrm)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "self-hosted serverless backend
PiCloud runs small AngelScript scripts bound to HTTP routes and events, and
gives every app services its scripts call: a key-value store, JSON
documents, files, durable pub/sub, outbound HTTP, email, sealed secrets and
realtime streams to browsers. One binary with an embedded SQLite database
runs on anything from a Raspberry Pi up; several nodes share PostgreSQL.

This package holds the server, its built-in plugins, the admin dashboard
and a systemd unit running it as the picloud user, with its data in
/var/lib/picloud.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME picloud-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "picloud, cmake")
set(CPACK_DEBIAN_DEV_DESCRIPTION "SDK for PiCloud plugins
PiCloud is a self-hosted serverless backend whose services are plugins:
shared objects loaded through a stable C ABI with a C++ SDK on top.

This package holds the SDK's headers (the C ABI, picloud.h, and the
header-only C++ SDK) and the CMake package PiCloudSDK with
picloud_add_plugin(), to build a plugin out of tree the way the built-in
ones are built.")

# Evaluated by cpack itself: the version is the tree's when it packages.
set(CPACK_PICLOUD_SOURCE_DIR "${PROJECT_SOURCE_DIR}")
set(CPACK_PICLOUD_PROJECT_VERSION "${PROJECT_VERSION}")
set(CPACK_PICLOUD_DASHBOARD_SOURCE "${CMAKE_BINARY_DIR}/generated/kernel/dashboard/dashboard_files.cpp")
set(CPACK_PROJECT_CONFIG_FILE ${_pkg_src}/cpack_project.cmake)

include(CPack)
