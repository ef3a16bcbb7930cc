// Named "log", like one of the kernel's config sections: must be refused.
#include "simple.hpp"
PICLOUD_PLUGIN(NothingPlugin, "log", "0.1.0", "", "")
