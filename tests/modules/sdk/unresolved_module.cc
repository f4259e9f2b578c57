// A module that needs a symbol nobody defines: loading it must fail with the loader's message.
#include "strowger/module/module.h"

extern "C" int strowger_test_symbol_nobody_defines(int);

extern "C" __attribute__((visibility("default"))) int unresolved_entry(int x) {
  return strowger_test_symbol_nobody_defines(x);
}
