// zmx-perf's JSON: a streaming writer for --json reports and a small reader (used by the
// tests to parse reports back, and available to tools that compare reports).
//
// The writer inserts commas and indentation itself; the caller only nests begin/end calls
// correctly. Non-finite numbers are written as null (JSON has no NaN), so "not measured"
// is a NaN in the result structs and a null in the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmx::perf {

class json_writer {
public:
    // indent 0: one line; otherwise pretty-printed with that many spaces per level.
    explicit json_writer(int indent = 2) : m_indent(indent) {}

    json_writer& begin_object();
    json_writer& end_object();
    json_writer& begin_array();
    json_writer& end_array();
    // Inside an object: the key of the next value.
    json_writer& key(std::string_view k);

    json_writer& value(std::string_view v);
    json_writer& value(const char* v) { return value(std::string_view(v)); }
    json_writer& value(const std::string& v) { return value(std::string_view(v)); }
    json_writer& value(double v);
    json_writer& value(std::int64_t v);
    json_writer& value(std::uint64_t v);
    json_writer& value(int v) { return value(static_cast<std::int64_t>(v)); }
    json_writer& value(unsigned v) { return value(static_cast<std::uint64_t>(v)); }
    json_writer& value(bool v);
    json_writer& null();

    // key + value in one call.
    template <typename T>
    json_writer& field(std::string_view k, const T& v)
    {
        key(k);
        return value(v);
    }

    [[nodiscard]] const std::string& str() const noexcept { return m_out; }

    // The JSON text of a string, quotes included.
    [[nodiscard]] static std::string quote(std::string_view s);

private:
    void before_value();
    void newline();

    std::string m_out;
    std::vector<bool> m_first; // per open container: no element written yet
    bool m_after_key = false;
    int m_indent;
};

// A parsed JSON value. Numbers are doubles (exact for integers up to 2^53).
struct json_value {
    enum class kind { null, boolean, number, string, array, object };
    kind type = kind::null;
    bool boolean = false;
    double number = 0.0;
    std::string string;
    std::vector<json_value> array;
    std::vector<std::pair<std::string, json_value>> object; // in file order

    [[nodiscard]] bool is_null() const noexcept { return type == kind::null; }
    // Object member by key, or nullptr (also when this is not an object).
    [[nodiscard]] const json_value* find(std::string_view k) const noexcept;
};

// Parses one JSON document (RFC 8259; nesting limited to 64 levels). On failure returns
// nullopt and, if error is given, a message with the byte offset.
[[nodiscard]] std::optional<json_value> json_parse(std::string_view text, std::string* error = nullptr);

} // namespace zmx::perf
