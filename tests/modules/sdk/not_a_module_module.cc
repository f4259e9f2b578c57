// A shared object that is no Strowger module (it exports no descriptor).
extern "C" __attribute__((visibility("default"))) int not_a_module_entry() {
  return 42;
}
