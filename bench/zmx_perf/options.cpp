#include "zmx_perf/options.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>

namespace zmx::perf {

const char* to_string(scenario_kind k) noexcept
{
    switch (k) {
    case scenario_kind::lat: return "lat";
    case scenario_kind::thr: return "thr";
    case scenario_kind::fanout: return "fanout";
    case scenario_kind::reqrep: return "reqrep";
    case scenario_kind::hs: return "hs";
    }
    return "?";
}

const char* to_string(transport_kind k) noexcept
{
    switch (k) {
    case transport_kind::inproc: return "inproc";
    case transport_kind::tcp: return "tcp";
    case transport_kind::ipc: return "ipc";
    case transport_kind::shm: return "shm";
    case transport_kind::other: return "other";
    }
    return "?";
}

const char* to_string(idle_kind k) noexcept
{
    switch (k) {
    case idle_kind::block: return "block";
    case idle_kind::backoff: return "backoff";
    case idle_kind::spin: return "spin";
    }
    return "?";
}

const char* to_string(lib_kind k) noexcept { return k == lib_kind::zmx ? "zmx" : "libzmq"; }

const char* to_string(compat_kind k) noexcept
{
    switch (k) {
    case compat_kind::local_lat: return "local_lat";
    case compat_kind::remote_lat: return "remote_lat";
    case compat_kind::local_thr: return "local_thr";
    case compat_kind::remote_thr: return "remote_thr";
    case compat_kind::inproc_lat: return "inproc_lat";
    case compat_kind::inproc_thr: return "inproc_thr";
    }
    return "?";
}

std::uint64_t scenario_options::effective_count() const noexcept
{
    if (count != 0 || duration_s > 0)
        return count;
    switch (scenario) {
    case scenario_kind::thr: return default_thr_count;
    case scenario_kind::fanout: return default_fanout_count;
    case scenario_kind::hs: return default_hs_count;
    case scenario_kind::lat:
    case scenario_kind::reqrep: return default_lat_count;
    }
    return default_lat_count;
}

int scenario_options::effective_peers() const noexcept
{
    if (peers > 0)
        return peers;
    return scenario == scenario_kind::fanout ? 2 : 1;
}

std::optional<std::uint64_t> parse_count(std::string_view s, bool allow_suffix)
{
    std::uint64_t mult = 1;
    if (allow_suffix && !s.empty()) {
        switch (s.back()) {
        case 'k': case 'K': mult = 1'000; break;
        case 'M': mult = 1'000'000; break;
        case 'G': mult = 1'000'000'000; break;
        default: break;
        }
        if (mult != 1)
            s.remove_suffix(1);
    }
    if (s.empty() || s.size() > 20)
        return std::nullopt;
    std::uint64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9')
            return std::nullopt;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
            return std::nullopt;
        v = v * 10 + d;
    }
    if (v > std::numeric_limits<std::uint64_t>::max() / mult)
        return std::nullopt;
    return v * mult;
}

std::optional<double> parse_real(std::string_view s, bool allow_suffix)
{
    double mult = 1;
    if (allow_suffix && !s.empty()) {
        switch (s.back()) {
        case 'k': case 'K': mult = 1e3; break;
        case 'M': mult = 1e6; break;
        case 'G': mult = 1e9; break;
        default: break;
        }
        if (mult != 1)
            s.remove_suffix(1);
    }
    if (s.empty() || s.size() > 64 || !((s[0] >= '0' && s[0] <= '9') || s[0] == '.'))
        return std::nullopt;
    const std::string text(s);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(v) || v < 0)
        return std::nullopt;
    const double r = v * mult;
    if (!std::isfinite(r))
        return std::nullopt;
    return r;
}

namespace {

constexpr int max_cpu = 1024; // CPU_SETSIZE
constexpr std::size_t max_list = 64;

struct arg_error {
    std::string what;
};

// A comma-separated list of unsigned integers.
std::optional<std::vector<std::uint64_t>> parse_list(std::string_view s)
{
    std::vector<std::uint64_t> out;
    for (;;) {
        const std::size_t comma = s.find(',');
        const auto v = parse_count(s.substr(0, comma), false);
        if (!v || out.size() == max_list)
            return std::nullopt;
        out.push_back(*v);
        if (comma == std::string_view::npos)
            return out;
        s.remove_prefix(comma + 1);
    }
}

std::optional<transport_kind> scheme_of(std::string_view uri)
{
    const std::size_t sep = uri.find("://");
    if (sep == std::string_view::npos || sep == 0 || sep + 3 >= uri.size())
        return std::nullopt;
    const std::string_view scheme = uri.substr(0, sep);
    if (scheme == "inproc")
        return transport_kind::inproc;
    if (scheme == "tcp")
        return transport_kind::tcp;
    if (scheme == "ipc")
        return transport_kind::ipc;
    if (scheme == "shm")
        return transport_kind::shm;
    return transport_kind::other;
}

// Walks the arguments: options (--name value, --name=value, flags) and positionals.
class arg_reader {
public:
    explicit arg_reader(const std::vector<std::string>& args) : m_args(args) {}

    bool done() const { return m_i >= m_args.size(); }
    const std::string& peek() const { return m_args[m_i]; }

    // The next argument is an option: its name (without "--") and inline value, if any.
    bool next_is_option() const { return m_args[m_i].size() > 1 && m_args[m_i][0] == '-'; }

    std::string take_positional() { return m_args[m_i++]; }

    void take_option(std::string& name, std::optional<std::string>& inline_value)
    {
        std::string a = m_args[m_i++];
        inline_value.reset();
        const std::size_t eq = a.find('=');
        if (eq != std::string::npos) {
            inline_value = a.substr(eq + 1);
            a.resize(eq);
        }
        name = a;
    }

    std::string value_for(const std::string& name, std::optional<std::string>& inline_value)
    {
        if (inline_value)
            return *inline_value;
        if (done())
            throw arg_error{"option " + name + " needs a value"};
        return m_args[m_i++];
    }

private:
    const std::vector<std::string>& m_args;
    std::size_t m_i = 0;
};

template <typename T>
T in_range(const std::string& name, const std::string& v, std::uint64_t lo, std::uint64_t hi, bool suffix)
{
    const auto n = parse_count(v, suffix);
    if (!n || *n < lo || *n > hi)
        throw arg_error{name + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                        ", not '" + v + "'"};
    return static_cast<T>(*n);
}

// A number > 0 and <= hi.
double positive_real(const std::string& name, const std::string& v, double hi, bool suffix)
{
    const auto n = parse_real(v, suffix);
    if (!n || !(*n > 0) || *n > hi)
        throw arg_error{name + " must be a positive number up to " + std::to_string(static_cast<long long>(hi)) +
                        ", not '" + v + "'"};
    return *n;
}

// Library options valid for scenarios and sub-commands. Returns false if name is not one.
bool lib_option(const std::string& name, std::optional<std::string>& inline_value, arg_reader& r, lib_options& o,
                bool& lib_given)
{
    if (name == "--lib") {
        const std::string v = r.value_for(name, inline_value);
        if (v == "zmx")
            o.lib = lib_kind::zmx;
        else if (v == "libzmq")
            o.lib = lib_kind::libzmq;
        else
            throw arg_error{"--lib must be zmx or libzmq, not '" + v + "'"};
        lib_given = true;
    } else if (name == "--vs-libzmq") {
        if (inline_value)
            throw arg_error{"--vs-libzmq takes no value"};
        o.vs_libzmq = true;
    } else if (name == "--libzmq-path") {
        o.libzmq_path = r.value_for(name, inline_value);
        if (o.libzmq_path.empty())
            throw arg_error{"--libzmq-path needs a non-empty path"};
    } else if (name == "--idle") {
        const std::string v = r.value_for(name, inline_value);
        if (v == "spin")
            o.idle = idle_kind::spin;
        else if (v == "backoff")
            o.idle = idle_kind::backoff;
        else if (v == "block")
            o.idle = idle_kind::block;
        else
            throw arg_error{"--idle must be spin, backoff or block, not '" + v + "'"};
    } else if (name == "--spin-us") {
        o.spin_us = in_range<int>(name, r.value_for(name, inline_value), 0, 10'000'000, false);
    } else if (name == "--shm-size") {
        o.shm_size = in_range<int>(name, r.value_for(name, inline_value), 4096, 1 << 30, false);
    } else if (name == "--direct") {
        if (inline_value)
            throw arg_error{"--direct takes no value"};
        o.direct = true;
    } else if (name == "--claim") {
        if (inline_value)
            throw arg_error{"--claim takes no value"};
        o.claim = true;
    } else if (name == "--curve") {
        if (inline_value)
            throw arg_error{"--curve takes no value"};
        o.curve = true;
    } else if (name == "--io-threads") {
        o.io_threads = in_range<int>(name, r.value_for(name, inline_value), 1, 64, false);
    } else if (name == "--hwm") {
        o.hwm = in_range<int>(name, r.value_for(name, inline_value), 0, 1'000'000'000, true);
    } else {
        return false;
    }
    return true;
}

std::optional<compat_kind> compat_of(std::string_view s)
{
    for (const compat_kind k : {compat_kind::local_lat, compat_kind::remote_lat, compat_kind::local_thr,
                                compat_kind::remote_thr, compat_kind::inproc_lat, compat_kind::inproc_thr})
        if (s == to_string(k))
            return k;
    return std::nullopt;
}

std::optional<scenario_kind> scenario_of(std::string_view s)
{
    for (const scenario_kind k : {scenario_kind::lat, scenario_kind::thr, scenario_kind::fanout, scenario_kind::reqrep,
                                  scenario_kind::hs})
        if (s == to_string(k))
            return k;
    return std::nullopt;
}

bool is_help(const std::string& a) { return a == "-h" || a == "--help" || a == "help"; }

command parse_compat(compat_kind kind, const std::vector<std::string>& rest)
{
    command cmd;
    cmd.type = command::kind::compat;
    compat_options& c = cmd.compat;
    c.kind = kind;
    const bool has_endpoint = kind != compat_kind::inproc_lat && kind != compat_kind::inproc_thr;
    const bool is_lat = kind == compat_kind::local_lat || kind == compat_kind::remote_lat || kind == compat_kind::inproc_lat;
    std::vector<std::string> pos;
    arg_reader r(rest);
    bool lib_given = false;
    while (!r.done()) {
        if (is_help(r.peek())) {
            cmd.type = command::kind::help;
            return cmd;
        }
        if (!r.next_is_option()) {
            pos.push_back(r.take_positional());
            continue;
        }
        std::string name;
        std::optional<std::string> inline_value;
        r.take_option(name, inline_value);
        if (!lib_option(name, inline_value, r, c.lib, lib_given))
            throw arg_error{"unknown option for " + std::string(to_string(kind)) + ": " + name};
    }
    if (c.lib.vs_libzmq)
        throw arg_error{"--vs-libzmq is for scenarios; run " + std::string(to_string(kind)) + " with --lib libzmq instead"};
    const std::string expected = std::string(has_endpoint ? (kind == compat_kind::local_lat || kind == compat_kind::local_thr
                                                                 ? "<bind-to> "
                                                                 : "<connect-to> ")
                                                          : "") +
                                 "<message-size> " + (is_lat ? "<roundtrip-count>" : "<message-count>");
    const std::size_t want = has_endpoint ? 3 : 2;
    if (pos.size() != want)
        throw arg_error{std::string(to_string(kind)) + " takes " + expected + " (" + std::to_string(pos.size()) +
                        " argument" + (pos.size() == 1 ? "" : "s") + " given)"};
    std::size_t i = 0;
    if (has_endpoint) {
        c.endpoint = pos[i++];
        if (!scheme_of(c.endpoint))
            throw arg_error{"endpoint must look like transport://address, not '" + c.endpoint + "'"};
    }
    c.size = in_range<std::size_t>("<message-size>", pos[i++], 0, max_message_size, false);
    c.count = in_range<std::uint64_t>(is_lat ? "<roundtrip-count>" : "<message-count>", pos[i], 1,
                                      std::numeric_limits<int>::max(), false);
    return cmd;
}

command parse_scenario(const std::vector<std::string>& args)
{
    command cmd;
    cmd.type = command::kind::scenario;
    scenario_options& o = cmd.scenario;
    arg_reader r(args);
    bool have_scenario = false;
    bool transport_given = false;
    bool size_given = false;
    bool sizes_given = false;
    bool peers_given = false;
    bool lib_given = false;
    while (!r.done()) {
        if (is_help(r.peek())) {
            cmd.type = command::kind::help;
            return cmd;
        }
        if (!r.next_is_option()) {
            const std::string a = r.take_positional();
            if (have_scenario)
                throw arg_error{"unexpected argument '" + a + "'"};
            const auto s = scenario_of(a);
            if (!s)
                throw arg_error{"unknown scenario or command '" + a + "'"};
            o.scenario = *s;
            have_scenario = true;
            continue;
        }
        std::string name;
        std::optional<std::string> iv;
        r.take_option(name, iv);
        if (lib_option(name, iv, r, o.lib, lib_given))
            continue;
        if (name == "--transport") {
            const std::string v = r.value_for(name, iv);
            if (v == "inproc")
                o.transport = transport_kind::inproc;
            else if (v == "tcp")
                o.transport = transport_kind::tcp;
            else if (v == "ipc")
                o.transport = transport_kind::ipc;
            else if (v == "shm")
                o.transport = transport_kind::shm;
            else
                throw arg_error{"--transport must be inproc, tcp, ipc or shm, not '" + v + "' (use --endpoint for others)"};
            transport_given = true;
        } else if (name == "--endpoint") {
            o.endpoint = r.value_for(name, iv);
            if (!scheme_of(o.endpoint))
                throw arg_error{"--endpoint must look like transport://address, not '" + o.endpoint + "'"};
        } else if (name == "--size") {
            o.sizes = {in_range<std::size_t>(name, r.value_for(name, iv), 0, max_message_size, false)};
            size_given = true;
        } else if (name == "--sizes") {
            const std::string v = r.value_for(name, iv);
            const auto list = parse_list(v);
            if (!list)
                throw arg_error{"--sizes must be a comma-separated list of up to 64 sizes, not '" + v + "'"};
            o.sizes.clear();
            for (const std::uint64_t s : *list) {
                if (s > max_message_size)
                    throw arg_error{"--sizes: " + std::to_string(s) + " is above the 2^30-byte limit"};
                o.sizes.push_back(static_cast<std::size_t>(s));
            }
            sizes_given = true;
        } else if (name == "--count") {
            o.count = in_range<std::uint64_t>(name, r.value_for(name, iv), 1, std::uint64_t{1} << 50, true);
        } else if (name == "--duration") {
            o.duration_s = positive_real(name, r.value_for(name, iv), 31'536'000, false);
        } else if (name == "--rate") {
            o.rate = positive_real(name, r.value_for(name, iv), 1e9, true);
        } else if (name == "--warmup") {
            o.warmup = in_range<std::uint64_t>(name, r.value_for(name, iv), 0, std::uint64_t{1} << 40, true);
        } else if (name == "--fail-after") {
            o.fail_after = in_range<std::uint64_t>(name, r.value_for(name, iv), 1, std::uint64_t{1} << 50, true);
        } else if (name == "--stall-after") {
            o.stall_after = in_range<std::uint64_t>(name, r.value_for(name, iv), 1, std::uint64_t{1} << 50, true);
        } else if (name == "--peers") {
            o.peers = in_range<int>(name, r.value_for(name, iv), 1, 64, false);
            peers_given = true;
        } else if (name == "--cpus") {
            const std::string v = r.value_for(name, iv);
            const auto list = parse_list(v);
            if (!list)
                throw arg_error{"--cpus must be a comma-separated list of CPU numbers, not '" + v + "'"};
            o.cpus.clear();
            for (const std::uint64_t c : *list) {
                if (c >= static_cast<std::uint64_t>(max_cpu))
                    throw arg_error{"--cpus: CPU " + std::to_string(c) + " is out of range"};
                o.cpus.push_back(static_cast<int>(c));
            }
        } else if (name == "--runs") {
            o.runs = in_range<int>(name, r.value_for(name, iv), 1, 1000, false);
        } else if (name == "--interval") {
            const std::string v = r.value_for(name, iv);
            const auto n = parse_real(v, false);
            if (!n || *n > 3600)
                throw arg_error{"--interval must be a number of seconds from 0 (no progress lines) to 3600, not '" + v +
                                "'"};
            o.interval_s = *n;
        } else if (name == "--timeout") {
            o.timeout_s = positive_real(name, r.value_for(name, iv), 86'400, false);
        } else if (name == "--cross-process") {
            if (iv)
                throw arg_error{"--cross-process takes no value"};
            o.cross_process = true;
        } else if (name == "--json") {
            o.json_path = r.value_for(name, iv);
            if (o.json_path.empty())
                throw arg_error{"--json needs a file name (or - for stdout)"};
        } else {
            throw arg_error{"unknown option " + name};
        }
    }
    if (!have_scenario)
        throw arg_error{"no scenario given (lat, thr, fanout, reqrep, hs) and no sub-command"};
    if (o.count != 0 && o.duration_s > 0)
        throw arg_error{"--count and --duration are exclusive"};
    if (size_given && sizes_given)
        throw arg_error{"--size and --sizes are exclusive"};
    if (lib_given && o.lib.vs_libzmq)
        throw arg_error{"--lib and --vs-libzmq are exclusive (--vs-libzmq runs both)"};
    if (peers_given && o.peers != 1 && (o.scenario == scenario_kind::lat || o.scenario == scenario_kind::thr ||
                                              o.scenario == scenario_kind::hs))
        throw arg_error{std::string("--peers applies to fanout and reqrep, not ") + to_string(o.scenario)};
    if (o.fail_after != 0 && o.stall_after != 0)
        throw arg_error{"--fail-after and --stall-after are exclusive"};
    if (!o.endpoint.empty()) {
        const transport_kind t = *scheme_of(o.endpoint);
        if (transport_given && t != o.transport)
            throw arg_error{"--transport " + std::string(to_string(o.transport)) + " does not match --endpoint " +
                            o.endpoint};
        o.transport = t;
    }
    if (o.cross_process && o.transport == transport_kind::inproc)
        throw arg_error{"--cross-process needs a transport between processes (tcp, ipc, shm), not inproc"};
    if (o.cross_process && (o.scenario == scenario_kind::reqrep || o.scenario == scenario_kind::hs))
        throw arg_error{"--cross-process applies to lat, thr and fanout"};
    return cmd;
}

} // namespace

parse_result parse_command_line(const std::vector<std::string>& args)
{
    parse_result res;
    try {
        if (args.empty())
            throw arg_error{"no scenario or sub-command given"};
        if (is_help(args[0])) {
            res.cmd.type = command::kind::help;
        } else if (const auto k = compat_of(args[0])) {
            res.cmd = parse_compat(*k, std::vector<std::string>(args.begin() + 1, args.end()));
        } else {
            res.cmd = parse_scenario(args);
        }
        res.ok = true;
    } catch (const arg_error& e) {
        res.ok = false;
        res.error = e.what;
    }
    return res;
}

std::string usage_text(std::string_view program)
{
    const std::string p(program);
    return "usage: " + p + " <scenario> [options]\n"
           "       " + p + " local_lat <bind-to> <message-size> <roundtrip-count> [lib options]\n"
           "       " + p + " remote_lat <connect-to> <message-size> <roundtrip-count> [lib options]\n"
           "       " + p + " local_thr <bind-to> <message-size> <message-count> [lib options]\n"
           "       " + p + " remote_thr <connect-to> <message-size> <message-count> [lib options]\n"
           "       " + p + " inproc_lat <message-size> <roundtrip-count> [lib options]\n"
           "       " + p + " inproc_thr <message-size> <message-count> [lib options]\n"
           "\n"
           "scenarios (both sides in this process, one thread each, through the zmq.h C API):\n"
           "  lat      PAIR ping-pong: round-trip time of every message\n"
           "  thr      PUSH -> PULL one-way stream: throughput; one-way latency with --rate\n"
           "  fanout   PUB -> N SUBs (--peers, default 2): delivered rate, drops\n"
           "  reqrep   N REQ clients (--peers, default 1) -> one REP echo: round-trip time\n"
           "  hs       handshakes: a new PUSH connects to a bound PULL, sends one message and\n"
           "           closes, --count times (default 2000): handshakes/s and the time from\n"
           "           zmq_socket to the first message received (with --curve: CURVE)\n"
           "\n"
           "options:\n"
           "  --transport inproc|tcp|ipc|shm  default inproc; tcp binds 127.0.0.1 on a free port\n"
           "  --cross-process      lat, thr, fanout: the echo / the sender runs in a second\n"
           "                       process (this program again; fanout: its PUB binds, the\n"
           "                       SUBs here connect); not with inproc\n"
           "  --endpoint URI       bind to URI; the other side connects to ZMQ_LAST_ENDPOINT\n"
           "  --size N             message body in bytes (default 64)\n"
           "  --sizes N,N,...      size sweep: the scenario once per size\n"
           "  --count N            round trips (lat, reqrep; default 100k) or messages (thr:\n"
           "                       10M, fanout: 1M) per run; suffixes k, M, G\n"
           "  --duration S         run for S seconds instead of a count\n"
           "  --rate R             paced sending at R msgs/s (k, M suffixes); latency is\n"
           "                       measured from each message's intended send time, so a\n"
           "                       stall counts against every message it delays (no\n"
           "                       coordinated omission); thr/fanout latency needs --size >= 16\n"
           "  --warmup N           round trips (lat, reqrep) or messages (thr, fanout) sent\n"
           "                       before the clock starts, not counted (default 1000)\n"
           "  --peers N            fanout subscribers, reqrep clients\n"
           "  --cpus A,B[,C...]    pin the measuring thread (receiver, client) to A, its peer\n"
           "                       (sender, echo) to B, further SUBs/clients to C...\n"
           "  --runs N             runs per library and size (default 1)\n"
           "  --interval S         seconds between progress lines (default 1; 0: none)\n"
           "  --timeout S          fail a run when nothing moves for S seconds (default 10)\n"
           "  --json FILE          also write the results as JSON ('-': stdout; the human\n"
           "                       report then goes to stderr); a failed run still writes\n"
           "                       what it measured, with an \"error\" field\n"
           "  --fail-after N       testing: the sender fails the run after N messages\n"
           "  --stall-after N      testing: the sender stops after N messages (the watchdog\n"
           "                       then ends the run)\n"
           "\n"
           "lib options (scenarios and sub-commands):\n"
           "  --lib zmx|libzmq     the library that runs (default zmx)\n"
           "  --vs-libzmq          scenarios: run zmx and the system libzmq alternately and\n"
           "                       print both and the ratio (medians over --runs)\n"
           "  --libzmq-path PATH   the libzmq loaded at run time (default libzmq.so.5)\n"
           "  --idle spin|backoff|block  zmx: ZMX_IDLE on every socket, ZMX_CTX_IDLE on the\n"
           "                       context (libzmq has no such option: ignored there)\n"
           "  --spin-us N          zmx: ZMX_SPIN_US, poll N us before sleeping\n"
           "  --direct             zmx: ZMX_DIRECT\n"
           "  --shm-size BYTES     zmx: ZMX_SHM_SIZE, each shm ring's (and a PUB's log's) size\n"
           "  --claim              zmx: thr/fanout senders fill bodies in place with\n"
           "                       zmx_msg_init_claim (zero-copy send over shm with --direct)\n"
           "  --io-threads N       ZMQ_IO_THREADS\n"
           "  --hwm N              ZMQ_SNDHWM and ZMQ_RCVHWM on every socket\n"
           "  --curve              CURVE security on every connection (the binding socket is\n"
           "                       the server; keys made per run with zmq_curve_keypair)\n"
           "\n"
           "The sub-commands take libzmq's perf tools' arguments and print their result lines.\n"
           "exit status: 0 ok, 1 a run failed, 2 bad arguments, 3 a socket type or transport\n"
           "is not supported by the library under test.\n";
}

} // namespace zmx::perf
