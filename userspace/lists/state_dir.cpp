#include "state_dir.hpp"

#include "maps.hpp"

namespace rg {

std::string default_state_dir(const std::string &pin_dir)
{
    if (pin_dir == kDefaultPinDir)
        return kDefaultStateDir;
    std::string name;
    for (char c : pin_dir) {
        if (c == '/')
            c = '-';
        if (!name.empty() || c != '-')
            name += c;
    }
    return std::string(kDefaultStateDir) + "/pin/" + name;
}

} // namespace rg
