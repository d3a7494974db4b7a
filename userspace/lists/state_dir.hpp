// The state directory of one pin directory: what the kernel maps do not
// hold (lists as they were added by hand, each feed's version in force) and
// caches that make the next write cheaper. The maps stay the record of what
// is enforced: a file here that is missing, damaged or made for other maps
// is ignored (or rebuilt from the maps) and never changes what is enforced.
// Files are 0600 in a 0700 directory, written under a temporary name and
// renamed into place.
#pragma once

#include <string>

namespace rg {

inline constexpr const char *kDefaultStateDir = "/var/lib/relayguard";

// /var/lib/relayguard for the default pin directory; for another one, a
// directory of its own below it, named after the pin directory's path
// ("/tmp/x/relayguard" -> /var/lib/relayguard/pin/tmp-x-relayguard), so
// two pin directories never share state.
std::string default_state_dir(const std::string &pin_dir);

} // namespace rg
