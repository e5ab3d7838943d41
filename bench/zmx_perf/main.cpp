// zmx-perf: a testpmd-style benchmark for zmx (and, side by side, the system's libzmq).
// See README.md in this folder and `zmx-perf --help`.
#include "zmx_perf/api.hpp"
#include "zmx_perf/compat.hpp"
#include "zmx_perf/harness.hpp"
#include "zmx_perf/options.hpp"
#include "zmx_perf/peer.hpp"
#include "zmx_perf/results.hpp"
#include "zmx_perf/scenarios.hpp"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

namespace {

using namespace zmx::perf;

constexpr const char* tool_version = "0.1.0";

int bad_args(const std::string& why)
{
    std::fprintf(stderr, "zmx-perf: %s\n\n%s", why.c_str(), usage_text("zmx-perf").c_str());
    return 2;
}

// A CPU outside the process's affinity mask is a bad argument, caught before any run.
std::string check_cpus(const std::vector<int>& cpus)
{
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return "";
    for (const int c : cpus) {
        if (!CPU_ISSET(c, &allowed)) {
            std::string list;
            for (int i = 0; i < CPU_SETSIZE; ++i)
                if (CPU_ISSET(i, &allowed))
                    list += (list.empty() ? "" : ",") + std::to_string(i);
            return "--cpus: CPU " + std::to_string(c) + " is not available to this process (available: " + list + ")";
        }
    }
    return "";
}

const zmq_api* pick_lib(const lib_options& lib, lib_kind which)
{
    if (which == lib_kind::zmx)
        return &zmx_api();
    std::string error;
    const zmq_api* api = load_libzmq(lib.libzmq_path, error);
    if (api == nullptr)
        std::fprintf(stderr, "zmx-perf: %s\n", error.c_str());
    return api;
}

report_info machine_info(const std::vector<std::string>& argv)
{
    report_info info;
    info.tool_version = tool_version;
    info.argv = argv;
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind("model name", 0) == 0) {
            const std::size_t colon = line.find(':');
            if (colon != std::string::npos)
                info.cpu_model = line.substr(std::min(line.size(), colon + 2));
            break;
        }
    }
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    info.nproc = n > 0 ? static_cast<int>(n) : 0;
    utsname u{};
    if (uname(&u) == 0)
        info.kernel = u.release;
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    info.started_at = buf;
    return info;
}

// Writes the --json report (file or stdout). Returns false when the file cannot be written.
bool write_report(const scenario_options& o, const report_info& info, const std::vector<run_result>& results,
                  const std::vector<comparison_row>& rows, FILE* out)
{
    const std::string text = report_json(info, o, results, rows);
    if (o.json_path == "-") {
        std::fputs(text.c_str(), stdout);
        std::fflush(stdout);
        return true;
    }
    std::ofstream f(o.json_path, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) {
        std::fprintf(stderr, "zmx-perf: cannot write %s\n", o.json_path.c_str());
        return false;
    }
    std::fprintf(out, "JSON written to %s\n", o.json_path.c_str());
    return true;
}

// What fatal() needs to still write the report when a run breaks midway (the process
// then exits 1). Set by run_scenarios; read on whichever thread failed, while the main
// thread is inside that run (it does not touch `results` until the run returns).
struct failure_context {
    const scenario_options* opts = nullptr;
    const report_info* info = nullptr;
    const std::vector<run_result>* results = nullptr;
    FILE* out = stdout;
};
failure_context g_failure;

void on_failure(const run_result* partial, const std::string& why)
{
    const failure_context& c = g_failure;
    if (c.opts == nullptr)
        return;
    std::vector<run_result> all = *c.results;
    if (partial != nullptr) {
        all.push_back(*partial);
        std::fputs(format_summary(*partial).c_str(), c.out);
    } else {
        run_result r;
        r.status = "error";
        r.error = why;
        all.push_back(r);
    }
    std::fflush(c.out);
    if (!c.opts->json_path.empty())
        (void)write_report(*c.opts, *c.info, all, {}, c.out);
}

int run_scenarios(const scenario_options& o, const std::vector<std::string>& argv)
{
    const report_info info = machine_info(argv);
    FILE* out = o.json_path == "-" ? stderr : stdout;

    std::vector<const zmq_api*> libs;
    if (o.lib.vs_libzmq) {
        libs.push_back(&zmx_api());
        libs.push_back(pick_lib(o.lib, lib_kind::libzmq));
    } else {
        libs.push_back(pick_lib(o.lib, o.lib.lib));
    }
    if (std::find(libs.begin(), libs.end(), nullptr) != libs.end())
        return 1;
    for (const zmq_api* a : libs)
        std::fprintf(out, "zmx-perf %s: %s from %s\n", tool_version, a->version.c_str(), a->path.c_str());
    const bool zmx_only_opts = o.lib.idle || o.lib.spin_us >= 0 || o.lib.direct || o.lib.claim || o.lib.shm_size >= 0;
    for (const zmq_api* a : libs)
        if (!a->is_zmx && zmx_only_opts)
            std::fprintf(out, "note: --idle, --spin-us, --direct, --claim and --shm-size are zmx options; %s runs with its defaults\n",
                         a->version.c_str());

    std::vector<run_result> results;
    g_failure = failure_context{&o, &info, &results, out};
    set_failure_handler(&on_failure);
    int serial = 0;
    for (const std::size_t size : o.sizes) {
        for (int run = 1; run <= o.runs; ++run) {
            // Alternate who goes first, so drift on a busy machine hits both libraries.
            std::vector<const zmq_api*> order = libs;
            if (run % 2 == 0)
                std::reverse(order.begin(), order.end());
            for (const zmq_api* api : order) {
                run_request req;
                req.api = api;
                req.opts = &o;
                req.size = size;
                req.run = run;
                req.serial = ++serial;
                req.out = out;
                results.push_back(run_scenario(req));
                std::fputs(format_summary(results.back()).c_str(), out);
                std::fflush(out);
            }
        }
    }

    std::vector<comparison_row> rows;
    if (o.lib.vs_libzmq) {
        rows = compare_libs(results);
        std::fputs(format_comparison(rows, libs[0]->version, libs[1]->version).c_str(), out);
    }
    set_failure_handler(nullptr);
    if (!o.json_path.empty() && !write_report(o, info, results, rows, out))
        return 1;
    std::fflush(stdout);
    const bool any_error = std::any_of(results.begin(), results.end(), [](const run_result& r) { return r.status == "error"; });
    const bool any_unsupported =
        std::any_of(results.begin(), results.end(), [](const run_result& r) { return r.status == "unsupported"; });
    return any_error ? 1 : any_unsupported ? 3 : 0;
}

} // namespace

int main(int argc, char** argv)
{
    const std::vector<std::string> args(argv + 1, argv + argc);
    const parse_result pr = parse_command_line(args);
    if (!pr.ok)
        return bad_args(pr.error);
    const command& cmd = pr.cmd;
    switch (cmd.type) {
    case command::kind::help: std::fputs(usage_text("zmx-perf").c_str(), stdout); return 0;
    case command::kind::compat: {
        const zmq_api* api = pick_lib(cmd.compat.lib, cmd.compat.lib.lib);
        return api == nullptr ? 1 : run_compat(cmd.compat, *api);
    }
    case command::kind::scenario: {
        if (const std::string e = check_cpus(cmd.scenario.cpus); !e.empty())
            return bad_args(e);
        if (is_peer_process())
            return peer_main(cmd.scenario);
        set_program_args(args);
        std::vector<std::string> all(argv, argv + argc);
        return run_scenarios(cmd.scenario, all);
    }
    }
    return 2;
}
