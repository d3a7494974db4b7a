// Checks of the counters document (`stats --json` and the daemon's stats
// lines, schema 2) shared by the unit and the netns tests: its key paths
// against the checked-in golden file, and its validation against
// docs/stats.schema.json by Debian's python3-jsonschema.
#pragma once

#include "privileged.hpp"

#include <nlohmann/json.hpp>

#include <set>
#include <string>

namespace rg::test {

// The paths of a document's leaves, "total.dropped.packets". Entries of the
// maps keyed by a name (interfaces, sources, feeds, watch.rules) appear as
// "*", so each path names a field, not an instance: "sources.*.kind".
std::set<std::string> stats_key_paths(const nlohmann::json &doc);

// tests/golden/stats-keys.txt: the paths of a document whose name-keyed
// maps are all non-empty.
std::set<std::string> golden_stats_key_paths();
// What `paths` has that the golden file has not, and the reverse; "" when
// they are the same.
std::string golden_stats_key_paths_diff(const std::set<std::string> &paths);

struct SchemaCheck {
    int status = -1;     // 0 valid, 1 invalid, 77 python3-jsonschema missing
    std::string output;  // the errors, each with its path in the document
};
// Validates one document, or a file of JSON lines (the daemon's stats_output).
SchemaCheck check_stats_schema(const nlohmann::json &doc);
SchemaCheck check_stats_schema_file(const std::string &path);

// Fails the current test when the check did not pass, or skips it when
// python3-jsonschema is missing (fails under RELAYGUARD_REQUIRE_PRIVILEGED=1).
#define RG_EXPECT_SCHEMA_VALID(check)                                                                   \
    do {                                                                                               \
        ::rg::test::SchemaCheck rg_c_ = (check);                                                       \
        if (rg_c_.status == 77 && !::rg::test::privileged_required())                                  \
            GTEST_SKIP() << rg_c_.output;                                                              \
        EXPECT_EQ(rg_c_.status, 0) << rg_c_.output;                                                    \
    } while (0)

} // namespace rg::test
