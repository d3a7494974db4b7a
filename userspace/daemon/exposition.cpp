#include "exposition.hpp"

#include <charconv>
#include <cmath>

namespace rg {

std::string prometheus_label_value(std::string_view v)
{
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string prometheus_number(double v)
{
    if (std::isnan(v))
        return "NaN";
    if (std::isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    return ec == std::errc() ? std::string(buf, end) : "NaN";
}

MetricFamily::MetricFamily(std::string &out, std::string name, const char *type, const char *help)
    : out_(out), name_(std::move(name))
{
    out_ += "# HELP " + name_ + " " + help + "\n# TYPE " + name_ + " " + type + "\n";
}

void MetricFamily::line(std::string_view suffix, const MetricLabels &labels, std::string_view value)
{
    out_ += name_;
    out_ += suffix;
    if (!labels.empty()) {
        out_ += '{';
        for (size_t i = 0; i < labels.size(); i++) {
            if (i)
                out_ += ',';
            out_ += labels[i].first + "=\"" + prometheus_label_value(labels[i].second) + "\"";
        }
        out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
}

} // namespace rg
