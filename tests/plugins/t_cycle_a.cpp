#include "simple.hpp"
PICLOUD_PLUGIN(NothingPlugin, "t_cycle_a", "0.1.0", "", "t_cycle_b")
