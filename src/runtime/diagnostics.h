// The configuration loader's names for the shared error-message helpers.
#pragma once

#include "strowger/diagnostics.h"

namespace strowger::runtime {

using diag::closestMatch;
using diag::inQuotes;
using diag::listOf;

}  // namespace strowger::runtime
