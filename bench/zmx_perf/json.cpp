#include "zmx_perf/json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace zmx::perf {

// ---- writer ----

std::string json_writer::quote(std::string_view s)
{
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('"');
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out.push_back(ch);
            }
        }
    }
    out.push_back('"');
    return out;
}

void json_writer::newline()
{
    if (m_indent <= 0)
        return;
    m_out.push_back('\n');
    m_out.append(m_first.size() * static_cast<std::size_t>(m_indent), ' ');
}

void json_writer::before_value()
{
    if (m_after_key) {
        m_after_key = false;
        return;
    }
    if (!m_first.empty()) {
        if (!m_first.back())
            m_out.push_back(',');
        m_first.back() = false;
        newline();
    }
}

json_writer& json_writer::begin_object()
{
    before_value();
    m_out.push_back('{');
    m_first.push_back(true);
    return *this;
}

json_writer& json_writer::end_object()
{
    const bool empty = m_first.empty() || m_first.back();
    if (!m_first.empty())
        m_first.pop_back();
    if (!empty)
        newline();
    m_out.push_back('}');
    return *this;
}

json_writer& json_writer::begin_array()
{
    before_value();
    m_out.push_back('[');
    m_first.push_back(true);
    return *this;
}

json_writer& json_writer::end_array()
{
    const bool empty = m_first.empty() || m_first.back();
    if (!m_first.empty())
        m_first.pop_back();
    if (!empty)
        newline();
    m_out.push_back(']');
    return *this;
}

json_writer& json_writer::key(std::string_view k)
{
    before_value();
    m_out += quote(k);
    m_out += m_indent > 0 ? ": " : ":";
    m_after_key = true;
    return *this;
}

json_writer& json_writer::value(std::string_view v)
{
    before_value();
    m_out += quote(v);
    return *this;
}

json_writer& json_writer::value(double v)
{
    if (!std::isfinite(v))
        return null();
    before_value();
    char buf[64];
    // Integral values (counts, nanoseconds) print without exponent up to 2^53; others in
    // the shortest form that reads back to the same double.
    if (std::nearbyint(v) == v && std::fabs(v) < 9007199254740992.0) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
        m_out += buf;
    } else {
        const auto res = std::to_chars(buf, buf + sizeof buf, v);
        m_out.append(buf, res.ptr);
    }
    return *this;
}

json_writer& json_writer::value(std::int64_t v)
{
    before_value();
    m_out += std::to_string(v);
    return *this;
}

json_writer& json_writer::value(std::uint64_t v)
{
    before_value();
    m_out += std::to_string(v);
    return *this;
}

json_writer& json_writer::value(bool v)
{
    before_value();
    m_out += v ? "true" : "false";
    return *this;
}

json_writer& json_writer::null()
{
    before_value();
    m_out += "null";
    return *this;
}

// ---- reader ----

const json_value* json_value::find(std::string_view k) const noexcept
{
    if (type != kind::object)
        return nullptr;
    for (const auto& [name, v] : object)
        if (name == k)
            return &v;
    return nullptr;
}

namespace {

class parser {
public:
    explicit parser(std::string_view t) : m_text(t) {}

    bool document(json_value& out)
    {
        skip_ws();
        if (!parse_value(out, 0))
            return false;
        skip_ws();
        if (m_pos != m_text.size())
            return fail("trailing characters");
        return true;
    }

    std::string error;

private:
    static constexpr int max_depth = 64;

    bool fail(const char* what)
    {
        if (error.empty())
            error = std::string(what) + " at offset " + std::to_string(m_pos);
        return false;
    }

    void skip_ws()
    {
        while (m_pos < m_text.size() &&
               (m_text[m_pos] == ' ' || m_text[m_pos] == '\t' || m_text[m_pos] == '\n' || m_text[m_pos] == '\r'))
            ++m_pos;
    }

    bool literal(std::string_view word)
    {
        if (m_text.substr(m_pos, word.size()) != word)
            return fail("invalid literal");
        m_pos += word.size();
        return true;
    }

    bool parse_value(json_value& out, int depth)
    {
        if (depth > max_depth)
            return fail("nesting too deep");
        if (m_pos >= m_text.size())
            return fail("unexpected end");
        const char c = m_text[m_pos];
        switch (c) {
        case '{': return parse_object(out, depth);
        case '[': return parse_array(out, depth);
        case '"': out.type = json_value::kind::string; return parse_string(out.string);
        case 't': out.type = json_value::kind::boolean; out.boolean = true; return literal("true");
        case 'f': out.type = json_value::kind::boolean; out.boolean = false; return literal("false");
        case 'n': out.type = json_value::kind::null; return literal("null");
        default:
            if (c == '-' || (c >= '0' && c <= '9'))
                return parse_number(out);
            return fail("unexpected character");
        }
    }

    bool parse_object(json_value& out, int depth)
    {
        out.type = json_value::kind::object;
        ++m_pos; // {
        skip_ws();
        if (m_pos < m_text.size() && m_text[m_pos] == '}') {
            ++m_pos;
            return true;
        }
        for (;;) {
            skip_ws();
            if (m_pos >= m_text.size() || m_text[m_pos] != '"')
                return fail("expected a key");
            std::string k;
            if (!parse_string(k))
                return false;
            skip_ws();
            if (m_pos >= m_text.size() || m_text[m_pos] != ':')
                return fail("expected ':'");
            ++m_pos;
            skip_ws();
            json_value v;
            if (!parse_value(v, depth + 1))
                return false;
            out.object.emplace_back(std::move(k), std::move(v));
            skip_ws();
            if (m_pos < m_text.size() && m_text[m_pos] == ',') {
                ++m_pos;
                continue;
            }
            if (m_pos < m_text.size() && m_text[m_pos] == '}') {
                ++m_pos;
                return true;
            }
            return fail("expected ',' or '}'");
        }
    }

    bool parse_array(json_value& out, int depth)
    {
        out.type = json_value::kind::array;
        ++m_pos; // [
        skip_ws();
        if (m_pos < m_text.size() && m_text[m_pos] == ']') {
            ++m_pos;
            return true;
        }
        for (;;) {
            skip_ws();
            json_value v;
            if (!parse_value(v, depth + 1))
                return false;
            out.array.push_back(std::move(v));
            skip_ws();
            if (m_pos < m_text.size() && m_text[m_pos] == ',') {
                ++m_pos;
                continue;
            }
            if (m_pos < m_text.size() && m_text[m_pos] == ']') {
                ++m_pos;
                return true;
            }
            return fail("expected ',' or ']'");
        }
    }

    static void put_utf8(std::string& out, unsigned cp)
    {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    bool hex4(unsigned& out)
    {
        if (m_pos + 4 > m_text.size())
            return fail("short \\u escape");
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const char h = m_text[m_pos++];
            out <<= 4;
            if (h >= '0' && h <= '9')
                out |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f')
                out |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
                out |= static_cast<unsigned>(h - 'A' + 10);
            else
                return fail("bad \\u escape");
        }
        return true;
    }

    bool parse_string(std::string& out)
    {
        ++m_pos; // opening quote
        while (m_pos < m_text.size()) {
            const char c = m_text[m_pos++];
            if (c == '"')
                return true;
            if (static_cast<unsigned char>(c) < 0x20)
                return fail("control character in string");
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (m_pos >= m_text.size())
                return fail("unterminated escape");
            const char e = m_text[m_pos++];
            switch (e) {
            case '"': out.push_back('"'); break;
            case '\\': out.push_back('\\'); break;
            case '/': out.push_back('/'); break;
            case 'b': out.push_back('\b'); break;
            case 'f': out.push_back('\f'); break;
            case 'n': out.push_back('\n'); break;
            case 'r': out.push_back('\r'); break;
            case 't': out.push_back('\t'); break;
            case 'u': {
                unsigned cp = 0;
                if (!hex4(cp))
                    return false;
                if (cp >= 0xD800 && cp < 0xDC00) { // high surrogate: needs its low half
                    unsigned low = 0;
                    if (m_text.substr(m_pos, 2) != "\\u")
                        return fail("lone surrogate");
                    m_pos += 2;
                    if (!hex4(low) || low < 0xDC00 || low > 0xDFFF)
                        return fail("bad surrogate pair");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return fail("lone surrogate");
                }
                put_utf8(out, cp);
                break;
            }
            default: return fail("bad escape");
            }
        }
        return fail("unterminated string");
    }

    bool parse_number(json_value& out)
    {
        const std::size_t start = m_pos;
        auto digits = [&] {
            const std::size_t d = m_pos;
            while (m_pos < m_text.size() && m_text[m_pos] >= '0' && m_text[m_pos] <= '9')
                ++m_pos;
            return m_pos - d;
        };
        if (m_text[m_pos] == '-')
            ++m_pos;
        if (m_pos < m_text.size() && m_text[m_pos] == '0')
            ++m_pos;
        else if (digits() == 0)
            return fail("bad number");
        if (m_pos < m_text.size() && m_text[m_pos] == '.') {
            ++m_pos;
            if (digits() == 0)
                return fail("bad fraction");
        }
        if (m_pos < m_text.size() && (m_text[m_pos] == 'e' || m_text[m_pos] == 'E')) {
            ++m_pos;
            if (m_pos < m_text.size() && (m_text[m_pos] == '+' || m_text[m_pos] == '-'))
                ++m_pos;
            if (digits() == 0)
                return fail("bad exponent");
        }
        const std::string num(m_text.substr(start, m_pos - start));
        out.type = json_value::kind::number;
        out.number = std::strtod(num.c_str(), nullptr);
        return true;
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
};

} // namespace

std::optional<json_value> json_parse(std::string_view text, std::string* error)
{
    parser p(text);
    json_value v;
    if (!p.document(v)) {
        if (error)
            *error = p.error;
        return std::nullopt;
    }
    return v;
}

} // namespace zmx::perf
