#include "stats_schema.hpp"

#include "lab.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace rg::test {

namespace {

const std::set<std::string> kNameKeyed = {"interfaces", "sources", "feeds", "watch.rules"};

void walk(const nlohmann::json &j, const std::string &path, std::set<std::string> &out)
{
    if (!j.is_object()) {
        out.insert(path);
        return;
    }
    bool by_name = kNameKeyed.count(path) != 0;
    for (const auto &[key, value] : j.items())
        walk(value, (path.empty() ? "" : path + ".") + (by_name ? "*" : key), out);
}

} // namespace

std::set<std::string> stats_key_paths(const nlohmann::json &doc)
{
    std::set<std::string> out;
    walk(doc, "", out);
    return out;
}

std::set<std::string> golden_stats_key_paths()
{
    const std::string path = RG_SOURCE_DIR "/tests/golden/stats-keys.txt";
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << "cannot read " << path;
    std::set<std::string> keys;
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] != '#')
            keys.insert(line);
    return keys;
}

std::string golden_stats_key_paths_diff(const std::set<std::string> &paths)
{
    std::set<std::string> want = golden_stats_key_paths();
    std::string extra, missing;
    for (const std::string &p : paths)
        if (!want.count(p))
            extra += "  " + p + "\n";
    for (const std::string &p : want)
        if (!paths.count(p))
            missing += "  " + p + "\n";
    return (extra.empty() ? "" : "keys not in tests/golden/stats-keys.txt:\n" + extra) +
           (missing.empty() ? "" : "keys of tests/golden/stats-keys.txt not written:\n" + missing);
}

SchemaCheck check_stats_schema_file(const std::string &path)
{
    // /usr/bin/python3: Debian's interpreter and its python3-jsonschema,
    // whatever else PATH holds.
    rg::lab::CmdResult r = rg::lab::run({"/usr/bin/python3", RG_SOURCE_DIR "/tests/lib/check_json_schema.py",
                                         RG_SOURCE_DIR "/docs/stats.schema.json", path});
    return {r.status, r.output};
}

SchemaCheck check_stats_schema(const nlohmann::json &doc)
{
    char tmpl[] = "/tmp/relayguard-stats.XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return {-1, "mkstemp failed"};
    close(fd);
    { std::ofstream(tmpl) << doc.dump() << "\n"; }
    SchemaCheck c = check_stats_schema_file(tmpl);
    std::filesystem::remove(tmpl);
    return c;
}

} // namespace rg::test
