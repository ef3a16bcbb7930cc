# The Debian version of this tree, read from the project: CMake's project
# version (PROJECT_VERSION, which kernel/version.hpp and PC_SDK_VERSION
# carry too) when CHANGELOG.md's newest section is that release, and
# <version>+git<date>.<commit> while its newest section is "Unreleased":
# later than the release it builds on, earlier than the next one. The
# packages' revision (CPACK_DEBIAN_PACKAGE_RELEASE, "1") is added to it:
# they are made by PiCloud itself from the same tree, and CHANGELOG.md is
# their upstream changelog.
#
#   picloud_package_version(<source dir> <project version> <out var> <date out var>)
#
# <date out var> is the commit's date in RFC 2822 form (the Debian
# changelog's), or the build's when the tree is not a git clone.
function(picloud_package_version source_dir project_version out_var date_var)
  file(STRINGS "${source_dir}/CHANGELOG.md" _sections REGEX "^## ")
  list(GET _sections 0 _newest)
  set(_version "${project_version}")
  set(_date "")
  find_program(_git git)
  if(_git)
    execute_process(COMMAND "${_git}" -C "${source_dir}" log -1 --format=%cd.%h --date=format:%Y%m%d
                    OUTPUT_VARIABLE _commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
    if(_rc EQUAL 0)
      execute_process(COMMAND "${_git}" -C "${source_dir}" log -1 --format=%cD
                      OUTPUT_VARIABLE _date OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    else()
      set(_commit "")
    endif()
  endif()
  if(_newest MATCHES "^## +Unreleased")
    if(_commit)
      string(APPEND _version "+git${_commit}")
    else()
      string(APPEND _version "+unreleased")
    endif()
  elseif(NOT _newest MATCHES "^## +${project_version}([^0-9.]|$)")
    message(FATAL_ERROR "CHANGELOG.md's newest section is '${_newest}', neither 'Unreleased' nor the project's "
                        "version ${project_version}: make them agree before packaging")
  endif()
  if(NOT _date)
    string(TIMESTAMP _date "%a, %d %b %Y %H:%M:%S +0000" UTC)
  endif()
  set(${out_var} "${_version}" PARENT_SCOPE)
  set(${date_var} "${_date}" PARENT_SCOPE)
endfunction()
