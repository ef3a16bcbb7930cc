# picloud_add_plugin(<name> SOURCES <files...> [OUTPUT_DIRECTORY <dir>])
#
# Builds <name>.so the way the PiCloud loader expects: a module with no
# "lib" prefix, hidden visibility, and a linker version script that exports
# only `picloud_plugin` (the descriptor of picloud.h). Used for the built-in plugins and shipped
# with the SDK for third-party ones.
set(_PICLOUD_PLUGIN_EXPORTS "${CMAKE_CURRENT_LIST_DIR}/plugin-exports.map")

function(picloud_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "picloud_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "${name}"
    CXX_STANDARD 20
    CXX_STANDARD_REQUIRED ON
    CXX_EXTENSIONS OFF
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  endif()
  target_link_libraries(${name} PRIVATE PiCloud::SDK)
  target_link_options(${name} PRIVATE "LINKER:--version-script=${_PICLOUD_PLUGIN_EXPORTS}")
  # Every symbol resolved at link time, except in PiCloud's sanitizer build:
  # there the sanitizer runtime lives in the executable, not in the plugin.
  if(NOT PICLOUD_SANITIZE)
    target_link_options(${name} PRIVATE "LINKER:-z,defs")
  endif()
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS "${_PICLOUD_PLUGIN_EXPORTS}")
endfunction()
