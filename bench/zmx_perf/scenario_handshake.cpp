// hs: handshakes per second. One thread, again and again: a new PUSH socket connects to
// the bound PULL (with --curve: a CURVE client of a CURVE server, so each time the full
// HELLO / WELCOME / INITIATE / READY with fresh transient keys), sends one message of
// --size bytes, the PULL receives it, and the PUSH is closed (linger 0). The time from
// zmq_socket to the message's arrival is the handshake latency; handshakes/s is the
// measured count over the span of the measured cycles. --warmup cycles are not counted.
#include "zmx_perf/harness.hpp"
#include "zmx_perf/scenarios.hpp"

#include <algorithm>
#include <memory>
#include <thread>

namespace zmx::perf {

namespace {

void handshake_loop(session& ses, const scenario_options& o, std::size_t size, void* pull, const std::string& ep,
                    worker_state& w)
{
    const zmq_api& api = ses.api();
    const std::uint64_t count = o.effective_count();
    const std::int64_t duration_ns = o.duration_s > 0 ? static_cast<std::int64_t>(o.duration_s * 1e9) : 0;
    zmq_msg_t m;
    api.msg_init(&m);
    const std::int64_t cpu0 = thread_cpu_ns();
    std::int64_t deadline = INT64_MAX;
    for (std::uint64_t i = 0;; ++i) {
        if (count != 0 && i >= o.warmup + count)
            break;
        const std::int64_t t0 = now_ns();
        if (t0 >= deadline)
            break;
        const bool measured = i >= o.warmup;
        if (i == o.warmup) {
            w.first_ns = t0;
            if (duration_ns > 0)
                deadline = t0 + duration_ns;
        }
        inject_failure(api, o, i);
        void* push = nullptr;
        try {
            push = ses.socket(ZMQ_PUSH, "PUSH");
            ses.connect(push, ep);
        } catch (const setup_failure& f) {
            fatal(api, f.what, false);
        }
        if (api.msg_init_size(&m, size) != 0)
            fatal(api, "zmq_msg_init_size");
        if (size != 0)
            std::memset(api.msg_data(&m), 0x5a, size);
        if (api.msg_send(&m, push, 0) < 0)
            fatal(api, "PUSH zmq_msg_send");
        if (api.msg_recv(&m, pull, 0) < 0)
            fatal(api, "PULL zmq_msg_recv");
        const std::int64_t t1 = now_ns();
        if (api.msg_size(&m) != size)
            fatal(api, "message of " + std::to_string(api.msg_size(&m)) + " bytes, expected " + std::to_string(size),
                  false);
        ses.close(push);
        ++w.handled;
        bump(w.live.tx);
        if (measured) {
            const auto t = static_cast<std::uint64_t>(std::max<std::int64_t>(0, t1 - t0));
            w.latency_ns.record(t);
            ++w.sent;
            ++w.received;
            w.last_ns = t1;
            bump(w.live.rx);
            bump(w.live.lat_sum_ns, t);
            bump(w.live.lat_n);
        }
    }
    w.cpu_ns = thread_cpu_ns() - cpu0;
    api.msg_close(&m);
}

} // namespace

run_result run_handshakes(const run_request& req, run_result r)
{
    const zmq_api& api = *req.api;
    const scenario_options& o = *req.opts;
    r.a_role = "client+server";
    r.b_role = "-";

    session ses(api, o.lib);
    void* pull = ses.socket(ZMQ_PULL, "PULL");
    const std::string connect_to = ses.bind(pull, r.endpoint);
    r.endpoint = connect_to;
    std::fputs(format_run_header(r, o).c_str(), req.out);
    std::fflush(req.out);

    auto w = std::make_unique<worker_state>();
    completion done(1);
    monitor_config mc;
    mc.opts = &o;
    mc.api = &api;
    mc.size = req.size;
    mc.out = req.out;
    mc.workers.push_back(&w->live);

    const run_in_progress progress(r, mc);
    const std::int64_t proc0 = process_cpu_ns();
    std::thread t;
    try {
        t = std::thread([&] {
            run_worker(api, cpu_for(o, 0), done, *w, [&] { handshake_loop(ses, o, req.size, pull, connect_to, *w); });
        });
    } catch (const std::exception& e) {
        fatal(api, std::string("cannot start a thread: ") + e.what(), false);
    }
    r.intervals = run_monitor(mc, done);
    t.join();
    const std::int64_t proc_ns = process_cpu_ns() - proc0;

    r.sent = w->sent;
    r.received = w->received;
    if (r.received != 0 && w->last_ns > w->first_ns) {
        r.elapsed_s = static_cast<double>(w->last_ns - w->first_ns) / 1e9;
        r.msgs_per_s = static_cast<double>(r.received) / r.elapsed_s;
        r.mb_per_s = r.msgs_per_s * static_cast<double>(req.size) / 1e6;
    }
    r.latency = summarize_latency(w->latency_ns, "handshake");
    if (w->handled != 0) {
        r.cpu_ns_a = static_cast<double>(w->cpu_ns) / static_cast<double>(w->handled);
        r.cpu_ns_process = static_cast<double>(proc_ns) / static_cast<double>(w->handled);
    }
    return r;
}

} // namespace zmx::perf
