// The Prometheus text exposition format (version 0.0.4), written family by
// family: a family's HELP and TYPE lines, then its samples, never
// interleaved with another family's (the format requires a family's lines
// together). Used for the families read from the maps (metrics.hpp), the
// histograms (histogram.hpp) and the families of the daemon's own memory
// (daemon_metrics.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rg {

// A sample's labels, in the order written.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A label value as written between the double quotes: backslash, double
// quote and newline escaped as \\, \" and \n.
std::string prometheus_label_value(std::string_view v);

// A floating-point sample value: the shortest text that reads back as the
// same double ("0.25", "1e-05"), and NaN, +Inf, -Inf as the format spells them.
std::string prometheus_number(double v);

// The content type of the text, for an HTTP response.
inline constexpr const char *kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

class MetricFamily {
public:
    // Writes the HELP and TYPE lines to out. Help texts are constants
    // without backslashes or newlines.
    MetricFamily(std::string &out, std::string name, const char *type, const char *help);

    void sample(const MetricLabels &labels, uint64_t value) { line("", labels, std::to_string(value)); }
    void sample_float(const MetricLabels &labels, double value) { line("", labels, prometheus_number(value)); }
    // A sample named after the family plus a suffix (a histogram's _bucket,
    // _sum, _count), its value already as text.
    void line(std::string_view suffix, const MetricLabels &labels, std::string_view value);

private:
    std::string &out_;
    std::string name_;
};

} // namespace rg
