// The collapse of a prefix set from the collapse of one it differs from in
// a few places (a feed's download against its last one): only windows
// around the changed prefixes are collapsed again, and what a window held
// before and holds now is also the change of the collapsed list.
//
// Why windows suffice: a collapsed set is the one way to cover its
// addresses with the largest aligned blocks. Where the addresses did not
// change, a block can change only if a change lies in its parent. So each
// changed prefix is widened to the block of the old collapse that holds
// it, and to its parent while the new set covers it whole; outside these
// windows old and new collapse agree, and inside one the new collapse is
// that of the new prefixes in it.
#pragma once

#include "prefix_set.hpp"

namespace rg {

struct CollapseDelta {
    PrefixSet list;            // collapse(next)
    PrefixSet removed, added;  // blocks only `before` has, and only `list` has; sorted
    size_t collapsed = 0;      // prefixes of next collapsed again (those in the windows)
};

// next: sorted (duplicates and covered prefixes allowed); before: the
// collapse of a set that differs from next only inside the prefixes of
// `changed` (sorted). out.list's memory is reused.
void collapse_delta(PrefixSpan next, PrefixSpan before, PrefixSpan changed, CollapseDelta &out);

} // namespace rg
