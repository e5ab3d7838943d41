#include "zap_client.hpp"

#include <cerrno>
#include <cstring>
#include <string_view>

#include "pipe.hpp"
#include "zmtp_command.hpp"

namespace zmx::core::zap {

namespace {

bool write_frame(pipe& p, std::string_view s, bool more) noexcept
{
    msg m;
    if (m.init_buffer(s.data(), s.size()) != 0) return false;
    m.set_more(more);
    if (!p.write(m)) {
        (void)m.close();
        return false;
    }
    return true;
}

} // namespace

int send_request(pipe& p, const request& r) noexcept
{
    const std::string_view head[] = {"", "1.0", "1", r.domain, r.address, r.identity, r.mechanism};
    bool ok = true;
    for (std::size_t i = 0; i < std::size(head) && ok; ++i) {
        ok = write_frame(p, head[i], i + 1 < std::size(head) || !r.credentials.empty());
    }
    for (std::size_t i = 0; i < r.credentials.size() && ok; ++i) {
        ok = write_frame(p, r.credentials[i], i + 1 < r.credentials.size());
    }
    if (!ok) {
        p.rollback();
        return ENOMEM;
    }
    p.flush();
    return 0;
}

result read_reply(pipe& p, zmtp::plain_verdict& verdict, metadata::entries& props) noexcept
{
    if (!p.check_read()) return result::pending;
    std::vector<std::string> frames;
    bool more = true;
    bool ok = true;
    while (more) {
        msg m;
        m.init();
        if (!p.read(m)) break; // published whole: cannot happen mid-message
        more = m.more();
        try {
            frames.emplace_back(static_cast<const char*>(m.data()), m.size());
        } catch (...) {
            ok = false;
        }
        (void)m.close();
    }
    verdict = zmtp::plain_verdict{};
    props.clear();
    // "", "1.0", request id, status code, status text, user id, metadata
    if (!ok || frames.size() != 7 || !frames[0].empty() || frames[1] != "1.0" || frames[2] != "1" ||
        frames[3].size() != 3) {
        verdict.status = 500;
        return result::done;
    }
    const std::string& code = frames[3];
    if (code == "200") {
        verdict.status = 200;
    } else if (code == "300" || code == "400" || code == "500") {
        verdict.status = (code[0] - '0') * 100;
    } else {
        verdict.status = 500;
        return result::done;
    }
    try {
        verdict.user_id = frames[5];
        const auto& md = frames[6];
        const zmtp::bytes_view data{reinterpret_cast<const std::uint8_t*>(md.data()), md.size()};
        if (zmtp::parse_properties(data, props) != zmtp::error::none) {
            props.clear();
            verdict.status = 500; // malformed metadata: refused, as libzmq does
        }
    } catch (...) {
        verdict.status = 500;
    }
    return result::done;
}

} // namespace zmx::core::zap
