// Must not compile: nothing below tools/ includes the wiring.
#include "tools/node/node.h"
