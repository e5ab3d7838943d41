// Live interop of zmx's ZMTP codec and handshake (core/zmtp_*.hpp) with the real libzmq
// 4.3.4. libzmq cannot share this process (its zmq_* symbols clash with zmx's), so a
// pyzmq script (py/zmtp_peer.py) runs as a child process and binds; the test connects a
// plain kernel TCP socket and speaks ZMTP itself: greeting, NULL or PLAIN handshake (both
// PLAIN roles, with and without a ZAP handler on the libzmq side), then multipart
// messages of 0, 1, 255, 256, 70000 and 1 MiB frames both ways, checking contents and
// metadata on both sides. Large bodies are received through the decoder's zero-copy path.
// Readiness is the child's "READY <port>" line; no sleeps.
#include "metadata.hpp"
#include "msg.hpp"
#include "zmtp_codec.hpp"
#include "zmtp_command.hpp"
#include "zmtp_handshake.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

namespace z = zmx::core::zmtp;
using zmx::core::msg;
using bytes = std::vector<std::uint8_t>;
using message = std::vector<bytes>;

constexpr int io_timeout_ms = 30000;
const std::size_t sizes[] = {0, 1, 255, 256, 70000, 1 << 20};

bytes pattern(std::size_t n, std::size_t seed) // mirrors zmtp_peer.py
{
    bytes b(n);
    const std::size_t off = (seed * 13) % 251;
    for (std::size_t j = 0; j < n; ++j) b[j] = static_cast<std::uint8_t>((j + off) % 251);
    return b;
}

std::vector<message> test_set()
{
    std::vector<message> v;
    for (std::size_t i = 0; i < std::size(sizes); ++i) v.push_back({pattern(sizes[i], i)});
    message multi;
    for (std::size_t i = 0; i < std::size(sizes); ++i) multi.push_back(pattern(sizes[i], 100 + i));
    v.push_back(multi);
    return v;
}

bool have_pyzmq() { return std::system("/usr/bin/python3 -c 'import zmq' >/dev/null 2>&1") == 0; }

// The libzmq peer: a child python process whose stdout (and stderr) we read by line.
class py_peer {
public:
    explicit py_peer(const std::string& mode)
    {
        int out[2];
        int in[2];
        if (::pipe(out) != 0) return;
        if (::pipe(in) != 0) {
            ::close(out[0]);
            ::close(out[1]);
            return;
        }
        const std::string script = std::string(ZMX_TEST_SOURCE_DIR) + "/interop/py/zmtp_peer.py";
        m_pid = ::fork();
        if (m_pid == 0) {
            ::dup2(in[0], 0);
            ::dup2(out[1], 1);
            ::dup2(out[1], 2);
            for (const int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
            ::execl("/usr/bin/python3", "python3", script.c_str(), mode.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(out[1]);
        ::close(in[0]);
        m_fd = out[0];
        m_in = in[1];
    }
    ~py_peer()
    {
        if (m_in >= 0) ::close(m_in);
        if (m_pid > 0) {
            ::kill(m_pid, SIGTERM); // our own child, by pid
            ::waitpid(m_pid, nullptr, 0);
        }
        if (m_fd >= 0) ::close(m_fd);
    }
    void send_line(const std::string& line)
    {
        const std::string l = line + "\n";
        EXPECT_EQ(::write(m_in, l.data(), l.size()), static_cast<ssize_t>(l.size()));
    }
    // Next line of output (without '\n'); empty with ok = false on timeout or EOF.
    std::string read_line(bool& ok)
    {
        ok = false;
        for (;;) {
            const auto nl = m_buf.find('\n');
            if (nl != std::string::npos) {
                std::string line = m_buf.substr(0, nl);
                m_buf.erase(0, nl + 1);
                ok = true;
                return line;
            }
            pollfd p{m_fd, POLLIN, 0};
            if (m_fd < 0 || ::poll(&p, 1, io_timeout_ms) <= 0) return {};
            char chunk[512];
            const ssize_t n = ::read(m_fd, chunk, sizeof chunk);
            if (n <= 0) return {};
            m_buf.append(chunk, static_cast<std::size_t>(n));
        }
    }
    int port()
    {
        bool ok = false;
        const std::string line = read_line(ok);
        if (!ok || line.rfind("READY ", 0) != 0) {
            ADD_FAILURE() << "peer did not start: " << line << m_buf;
            return -1;
        }
        return std::stoi(line.substr(6));
    }
    // Waits for the verdict line and the exit status.
    void expect_ok()
    {
        bool ok = false;
        const std::string line = read_line(ok);
        EXPECT_EQ(line, "OK") << m_buf;
        int status = -1;
        ::waitpid(m_pid, &status, 0);
        m_pid = -1;
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "python exit status " << status;
    }

private:
    pid_t m_pid = -1;
    int m_fd = -1; // its stdout and stderr
    int m_in = -1; // its stdin
    std::string m_buf;
};

// A ZMTP connection driven by hand over a blocking kernel TCP socket, the way a stream
// engine would drive the codec.
class zmtp_conn {
public:
    explicit zmtp_conn(int port)
    {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        timeval tv{io_timeout_ms / 1000, 0};
        ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(m_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        const int one = 1;
        ::setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        m_connected = ::connect(m_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        m_rx.resize(64 * 1024);
    }
    ~zmtp_conn()
    {
        if (m_fd >= 0) ::close(m_fd);
    }
    bool connected() const { return m_connected; }
    std::size_t zero_copy_bytes() const { return m_zero_copy; }

    // Runs the handshake to ready, error or EOF. Returns hs.state(); eof tells why it stopped.
    z::handshake::status handshake(z::handshake& hs, bool& eof)
    {
        eof = false;
        for (;;) {
            const auto out = hs.output();
            if (!out.empty()) { // best effort: an ERROR to a peer that hung up may fail
                const ssize_t n = ::send(m_fd, out.data(), out.size(), MSG_NOSIGNAL);
                if (n > 0) hs.output_done(static_cast<std::size_t>(n));
                if (n > 0) continue;
            }
            if (hs.state() != z::handshake::status::in_progress) return hs.state();
            if (m_rx_begin < m_rx_end) {
                std::size_t used = 0;
                (void)hs.feed(m_rx.data() + m_rx_begin, m_rx_end - m_rx_begin, used);
                m_rx_begin += used;
                if (used != 0 || hs.state() != z::handshake::status::in_progress) continue;
            }
            if (!fill()) {
                eof = true;
                return hs.state();
            }
        }
    }

    // Next frame; command frames are reported through `command`.
    bool recv_frame(msg& out, bool& command)
    {
        for (;;) {
            if (m_rx_begin < m_rx_end) {
                std::size_t used = 0;
                const auto st = m_dec.decode(m_rx.data() + m_rx_begin, m_rx_end - m_rx_begin, used, out);
                m_rx_begin += used;
                if (st == z::frame_decoder::status::error) {
                    ADD_FAILURE() << "decode: " << z::describe(m_dec.error_code());
                    return false;
                }
                if (st == z::frame_decoder::status::frame) {
                    command = m_dec.last_was_command();
                    return true;
                }
            }
            // Zero-copy path: a large remainder is read straight into the message body.
            const auto target = m_dec.body_buffer();
            if (target.size() >= 16 * 1024) {
                const ssize_t n = ::recv(m_fd, target.data(), target.size(), 0);
                if (n <= 0) return false;
                m_zero_copy += static_cast<std::size_t>(n);
                const auto st = m_dec.body_received(static_cast<std::size_t>(n), out);
                if (st == z::frame_decoder::status::frame) {
                    command = m_dec.last_was_command();
                    return true;
                }
                if (st == z::frame_decoder::status::error) return false;
                continue;
            }
            if (!fill()) return false;
        }
    }

    // Next whole message; PONG contexts seen on the way are collected.
    bool recv_message(message& m)
    {
        m.clear();
        for (;;) {
            msg f{};
            bool command = false;
            if (!recv_frame(f, command)) return false;
            const auto* p = static_cast<const std::uint8_t*>(f.data());
            if (command) {
                z::command_view cmd;
                z::bytes_view ctx;
                if (z::parse_command({p, f.size()}, cmd) == z::error::none && cmd.kind == z::command_kind::pong &&
                    z::parse_pong(cmd.data, ctx) == z::error::none)
                    pongs.emplace_back(ctx.begin(), ctx.end());
                (void)f.close();
                continue;
            }
            m.emplace_back(p, p + f.size());
            const bool more = f.more();
            (void)f.close();
            if (!more) return true;
        }
    }

    bool send_message(const message& parts)
    {
        for (std::size_t i = 0; i < parts.size(); ++i) {
            msg m{};
            if (m.init_buffer(parts[i].data(), parts[i].size()) != 0) return false;
            m.set_more(i + 1 < parts.size());
            if (!queue(m, false)) return false;
        }
        return flush();
    }
    bool send_command(msg& m)
    {
        return queue(m, true) && flush();
    }

    std::vector<bytes> pongs;

private:
    bool fill()
    {
        if (m_rx_begin != 0) { // keep unconsumed bytes, make room behind them
            std::memmove(m_rx.data(), m_rx.data() + m_rx_begin, m_rx_end - m_rx_begin);
            m_rx_end -= m_rx_begin;
            m_rx_begin = 0;
        }
        if (m_rx_end == m_rx.size()) return false;
        const ssize_t n = ::recv(m_fd, m_rx.data() + m_rx_end, m_rx.size() - m_rx_end, 0);
        if (n <= 0) return false;
        m_rx_end += static_cast<std::size_t>(n);
        return true;
    }
    bool queue(msg& m, bool command)
    {
        while (!m_enc.add(m, command)) {
            if (!write_some()) {
                (void)m.close();
                return false;
            }
        }
        (void)m.close();
        return true;
    }
    bool write_some()
    {
        const auto iov = m_enc.pending();
        const ssize_t n = ::writev(m_fd, iov.data(), static_cast<int>(iov.size()));
        if (n <= 0) return false;
        m_enc.consume(static_cast<std::size_t>(n));
        return true;
    }
    bool flush()
    {
        while (!m_enc.empty()) {
            if (!write_some()) return false;
        }
        return true;
    }

    int m_fd = -1;
    bool m_connected = false;
    std::vector<std::uint8_t> m_rx;
    std::size_t m_rx_begin = 0;
    std::size_t m_rx_end = 0;
    z::frame_decoder m_dec{-1};
    z::batch_encoder m_enc;
    std::size_t m_zero_copy = 0;
};

z::handshake_options options(const char* socket_type)
{
    z::handshake_options o;
    o.socket_type = socket_type;
    o.properties = {{"X-Zmx", "hello"}};
    return o;
}

// Handshake that must succeed; checks libzmq's metadata.
void expect_ready(zmtp_conn& c, z::handshake& hs, const char* peer_type)
{
    ASSERT_TRUE(c.connected());
    bool eof = false;
    ASSERT_EQ(c.handshake(hs, eof), z::handshake::status::ready) << hs.error_reason() << (eof ? " (EOF)" : "");
    EXPECT_EQ(hs.peer_socket_type(), peer_type);
    EXPECT_STREQ(hs.peer_property("X-Lib"), "zmq");
    EXPECT_EQ(hs.peer_greeting().major, 3);
    EXPECT_EQ(hs.peer_greeting().minor, 1);
}

// libzmq sends the test set first, then expects it back.
void receive_then_send(zmtp_conn& c)
{
    const std::vector<message> expected = test_set();
    for (std::size_t i = 0; i < expected.size(); ++i) {
        message m;
        ASSERT_TRUE(c.recv_message(m)) << "message " << i;
        ASSERT_EQ(m.size(), expected[i].size()) << "message " << i;
        for (std::size_t f = 0; f < m.size(); ++f) EXPECT_TRUE(m[f] == expected[i][f]) << "message " << i << " frame " << f;
    }
    EXPECT_GE(c.zero_copy_bytes(), std::size_t{1} << 20); // the 1 MiB frames took the direct path
    for (const message& m : expected) ASSERT_TRUE(c.send_message(m));
}

TEST(zmtp_libzmq, null_pair_both_ways_with_heartbeat)
{
    if (!have_pyzmq()) GTEST_SKIP() << "python3-zmq is not installed";
    py_peer peer("pair");
    const int port = peer.port();
    ASSERT_GT(port, 0);
    {
        // A PUSH is refused (by us, on libzmq's READY, or by libzmq closing first).
        zmtp_conn bad(port);
        z::handshake hs(options("PUSH"));
        bool eof = false;
        const auto st = bad.handshake(hs, eof);
        EXPECT_NE(st, z::handshake::status::ready);
        if (!eof) {
            EXPECT_EQ(hs.error_code(), z::error::incompatible_socket_type) << hs.error_reason();
        }
        std::printf("[   info   ] PUSH vs PAIR refused by %s\n", eof ? "libzmq (EOF)" : hs.error_reason().c_str());
    }
    zmtp_conn c(port);
    z::handshake hs(options("PAIR"));
    expect_ready(c, hs, "PAIR");
    // libzmq answers PING with PONG echoing the context (RFC 37 heartbeats).
    msg ping{};
    const std::uint8_t ctx[] = {'z', 'm', 'x', '-', 'p', 'i', 'n', 'g'};
    ASSERT_EQ(z::make_ping(ping, 100, ctx), 0);
    ASSERT_TRUE(c.send_command(ping));
    receive_then_send(c);
    while (c.pongs.empty()) { // not interleaved with the data: it must be next
        message m;
        if (!c.recv_message(m)) break;
        ADD_FAILURE() << "unexpected message before PONG";
    }
    ASSERT_EQ(c.pongs.size(), 1u);
    EXPECT_EQ(c.pongs[0], bytes(std::begin(ctx), std::end(ctx)));
    peer.expect_ok();
}

TEST(zmtp_libzmq, libzmq_plain_server_without_zap_refuses_and_null_mismatches)
{
    // libzmq 4.3.4 refuses every PLAIN client when no ZAP handler is bound (it closes the
    // connection after HELLO, without ERROR); zmx's handshake mirrors that by default.
    if (!have_pyzmq()) GTEST_SKIP() << "python3-zmq is not installed";
    py_peer peer("plain_server");
    const int port = peer.port();
    ASSERT_GT(port, 0);
    {
        // NULL against PLAIN: refused on the greeting (or libzmq hangs up first).
        zmtp_conn bad(port);
        z::handshake hs(options("PAIR"));
        bool eof = false;
        const auto st = bad.handshake(hs, eof);
        EXPECT_NE(st, z::handshake::status::ready);
        if (!eof) {
            EXPECT_EQ(hs.error_code(), z::error::mechanism_mismatch) << hs.error_reason();
        }
        std::printf("[   info   ] NULL vs PLAIN refused by %s\n", eof ? "libzmq (EOF)" : hs.error_reason().c_str());
    }
    zmtp_conn c(port);
    ASSERT_TRUE(c.connected());
    auto o = options("PAIR");
    o.mech = z::mechanism::plain;
    o.plain_username = "anyone";
    o.plain_password = "anything";
    z::handshake hs(o);
    bool eof = false;
    EXPECT_EQ(c.handshake(hs, eof), z::handshake::status::in_progress) << hs.error_reason();
    EXPECT_TRUE(eof);
    EXPECT_EQ(hs.peer_greeting().mech, z::mechanism::plain);
    EXPECT_FALSE(hs.peer_greeting().as_server); // libzmq 4.3 never sets as-server
    peer.send_line("done");
    peer.expect_ok();
}

TEST(zmtp_libzmq, plain_wrong_password_gets_error_from_libzmq_zap)
{
    if (!have_pyzmq()) GTEST_SKIP() << "python3-zmq is not installed";
    py_peer peer("plain_zap");
    const int port = peer.port();
    ASSERT_GT(port, 0);
    auto o = options("PAIR");
    o.mech = z::mechanism::plain;
    o.plain_username = "admin";
    o.plain_password = "wrong";
    {
        zmtp_conn bad(port);
        z::handshake hs(o);
        bool eof = false;
        ASSERT_EQ(bad.handshake(hs, eof), z::handshake::status::error) << (eof ? "EOF instead of ERROR" : "");
        EXPECT_EQ(hs.error_code(), z::error::peer_error);
        EXPECT_EQ(hs.error_reason(), "peer sent ERROR: 400");
    }
    o.plain_password = "secret";
    zmtp_conn c(port);
    z::handshake hs(o);
    expect_ready(c, hs, "PAIR");
    receive_then_send(c); // the script checks User-Id == admin-id on our messages
    peer.expect_ok();
}

TEST(zmtp_libzmq, plain_server_against_libzmq_plain_client)
{
    if (!have_pyzmq()) GTEST_SKIP() << "python3-zmq is not installed";
    py_peer peer("plain_client");
    const int port = peer.port();
    ASSERT_GT(port, 0);
    auto o = options("PAIR");
    o.mech = z::mechanism::plain;
    o.plain_server = true;
    std::string user, pass;
    o.plain_check = [&](std::string_view u, std::string_view p) {
        user = u;
        pass = p;
        return z::plain_verdict{200, "py"};
    };
    zmtp_conn c(port);
    z::handshake hs(o);
    expect_ready(c, hs, "PAIR");
    EXPECT_EQ(user, "pyuser");
    EXPECT_EQ(pass, "pypass");
    EXPECT_STREQ(hs.peer_property("User-Id"), "py");
    receive_then_send(c);
    peer.expect_ok();
}

TEST(zmtp_libzmq, dealer_to_libzmq_router_with_routing_id)
{
    if (!have_pyzmq()) GTEST_SKIP() << "python3-zmq is not installed";
    py_peer peer("router");
    const int port = peer.port();
    ASSERT_GT(port, 0);
    zmtp_conn c(port);
    auto o = options("DEALER");
    o.routing_id = "zmx-dealer";
    z::handshake hs(o);
    expect_ready(c, hs, "ROUTER");
    const std::vector<message> expected = test_set();
    for (const message& m : expected) ASSERT_TRUE(c.send_message(m));
    for (std::size_t i = 0; i < expected.size(); ++i) {
        message m;
        ASSERT_TRUE(c.recv_message(m)) << "echo " << i;
        EXPECT_TRUE(m == expected[i]) << "echo " << i;
    }
    peer.expect_ok();
}

} // namespace
