// Lets a test tell whether a plugin's code ran.
#pragma once

#include <cstdlib>
#include <fstream>
#include <string>

// A static constructor that leaves `<$PICLOUD_TEST_MARKER_DIR>/<NAME>.ran`
// behind: proof that the plugin's code ran (dlopen runs it).
#define PICLOUD_TEST_MARK_WHEN_LOADED(NAME)                                  \
  namespace {                                                               \
  const bool marked_when_loaded = [] {                                      \
    if (const char* dir = std::getenv("PICLOUD_TEST_MARKER_DIR"))           \
      std::ofstream(std::string(dir) + "/" NAME ".ran") << "ran\n";         \
    return true;                                                            \
  }();                                                                      \
  }
