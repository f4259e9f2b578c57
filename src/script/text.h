// The script compiler's names for the shared error-message helpers.
#pragma once

#include "strowger/diagnostics.h"

namespace strowger::script::detail {

using diag::appendPrintable;
using diag::closestMatch;
using diag::didYouMean;
using diag::inQuotes;
using diag::listOf;

}  // namespace strowger::script::detail
