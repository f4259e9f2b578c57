// A module that claims another module ABI: the daemon must refuse it, saying which.
#include "strowger/module/module.h"

extern "C" __attribute__((visibility("default"))) const strowger::module::ModuleDescriptor*
strowger_module_descriptor() {
  static const strowger::module::ModuleDescriptor descriptor{strowger::module::kAbiVersion + 1000,
                                                             STROWGER_MODULE_BUILD_STAMP,
                                                             "wrongabi",
                                                             "1.0",
                                                             "test module built for another ABI",
                                                             nullptr};
  return &descriptor;
}
