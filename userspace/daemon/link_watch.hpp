// Interfaces coming and going, as rtnetlink announces them (RTMGRP_LINK):
// the daemon attaches the filter again as soon as a configured interface
// that was deleted comes back (re-created veth, a bond or VLAN rebuilt by
// ifupdown), instead of at its next periodic check (up to 30 s later).
#pragma once

#include "fd.hpp"

#include <string>
#include <vector>

namespace rg {

struct LinkEvent {
    std::string name;
    bool gone = false;  // RTM_DELLINK; else RTM_NEWLINK (created or changed)
};

class LinkWatch {
public:
    // Throws rg::Error when the netlink socket cannot be opened.
    LinkWatch();
    int fd() const { return fd_.get(); }
    // The events that arrived (none if it would block). When the kernel
    // dropped some (ENOBUFS), `lost` is set: the caller checks everything.
    std::vector<LinkEvent> read(bool &lost);

private:
    Fd fd_;
};

} // namespace rg
