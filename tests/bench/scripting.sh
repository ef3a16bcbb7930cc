#!/usr/bin/env bash
# The script engine's figures: compiling a 200-line script, the overhead of a
# trivial cached endpoint run (request in, response out), and one call from a
# script into a plugin-declared function. One thread.
source "$(dirname "$0")/lib.bash"
machine_line
"$BUILD_DIR/bench/scripting_bench"
