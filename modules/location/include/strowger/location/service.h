// What the location module offers other modules (Module::service("location", 1)): the store and
// the settings that decide what an address of record is. The registrar saves through it.
#pragma once

#include <cstdint>
#include <string>

#include "strowger/location/store.h"

namespace strowger::location {

inline constexpr const char* kServiceName = "location";
inline constexpr uint32_t kServiceVersion = 1;

class LocationService {
 public:
  virtual ~LocationService() = default;
  // The store once the module has started; null before (explain mode and --check-config load a
  // configuration without starting anything, and a step must then not touch the store).
  virtual LocationStore* store() = 0;
  // This node's name, stored with each binding it accepts.
  virtual const std::string& node() const = 0;
  // Whether addresses of record include the domain ("alice@example.com") or not ("alice").
  virtual bool useDomain() const = 0;
};

}  // namespace strowger::location
