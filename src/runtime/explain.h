// Explain mode: one message through the routing script, nothing sent. Sysadmins use it to check a
// routing change before they reload.
#pragma once

#include <ostream>
#include <string>

#include "strowger/runtime/config.h"

namespace strowger::runtime {

// Prints to `out` each step taken, each condition's outcome and where the message would go.
// Returns the process exit status: 0 when the message could be explained, 1 otherwise.
int explainMessage(const Config& config, const std::string& messageFile, const std::string& source,
                   std::ostream& out);

}  // namespace strowger::runtime
