// A plugin the kernel takes, whose static constructor leaves a marker: the
// proof that the marker shows code that ran. Loaded by one test only.
#include "simple.hpp"

PICLOUD_TEST_MARK_WHEN_LOADED("t_marker")
PICLOUD_PLUGIN(NothingPlugin, "t_marker", "0.1.0", "", "")
