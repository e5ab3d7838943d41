// lat (PAIR) and reqrep (REQ/REP): clients send a message, wait for the echo, and record
// the round trip. With --rate, round trip i is due at start + i / rate and its time is
// measured from then, not from when it was actually sent: a slow reply delays the next
// requests and that delay is counted (no coordinated omission).
#include "zmx_perf/harness.hpp"
#include "zmx_perf/peer.hpp"
#include "zmx_perf/scenarios.hpp"

#include <algorithm>
#include <memory>
#include <thread>

namespace zmx::perf {

namespace {

struct pingpong_params {
    const zmq_api* api = nullptr;
    std::size_t size = 0;
    std::uint64_t warmup = 0;
    std::uint64_t count = 0;      // measured round trips; 0: until duration_ns
    std::int64_t duration_ns = 0;
    double rate = 0;
    bool rep = false;             // the echo is a REP (answers control messages too)
    int clients = 1;
    const scenario_options* opts = nullptr;
};

void client_loop(const pingpong_params& p, void* s, worker_state& w)
{
    const zmq_api& api = *p.api;
    zmq_msg_t m;
    if (api.msg_init_size(&m, p.size) != 0)
        fatal(api, "zmq_msg_init_size");
    if (p.size != 0)
        std::memset(api.msg_data(&m), 0x5a, p.size);
    const double period_ns = p.rate > 0 ? 1e9 / p.rate : 0;
    const std::int64_t cpu0 = thread_cpu_ns();
    const std::int64_t t0 = now_ns();
    std::int64_t deadline = INT64_MAX;
    for (std::uint64_t i = 0;; ++i) {
        const bool measured = i >= p.warmup;
        if (p.count != 0 && i >= p.warmup + p.count)
            break;
        std::int64_t t_send = 0;
        if (period_ns > 0) {
            t_send = t0 + static_cast<std::int64_t>(static_cast<double>(i) * period_ns);
            if (t_send >= deadline)
                break;
            wait_until(t_send);
        } else {
            t_send = now_ns();
            if (t_send >= deadline)
                break;
        }
        if (i == p.warmup) {
            w.first_ns = t_send;
            if (p.duration_ns > 0)
                deadline = t_send + p.duration_ns;
        }
        inject_failure(api, *p.opts, i);
        if (!send_counting_stalls(api, &m, s, w.stalls, w.live))
            fatal(api, "client zmq_msg_send");
        if (api.msg_recv(&m, s, 0) < 0)
            fatal(api, "client zmq_msg_recv");
        const std::int64_t t_recv = now_ns();
        ++w.handled;
        bump(w.live.tx);
        if (api.msg_size(&m) != p.size)
            fatal(api,
                  "reply of " + std::to_string(api.msg_size(&m)) + " bytes, expected " + std::to_string(p.size),
                  false);
        if (measured) {
            const auto rtt = static_cast<std::uint64_t>(std::max<std::int64_t>(0, t_recv - t_send));
            w.latency_ns.record(rtt);
            ++w.sent;
            ++w.received;
            w.last_ns = t_recv;
            bump(w.live.rx);
            bump(w.live.lat_sum_ns, rtt);
            bump(w.live.lat_n);
        }
    }
    w.cpu_ns = thread_cpu_ns() - cpu0;
    api.msg_close(&m);
    // PAIR and REQ are both in their sending state here.
    if (!send_control(api, s, p.size, ctl_end, 0))
        fatal(api, "client: sending the end marker");
}

void echo_loop(const pingpong_params& p, void* s, worker_state& w)
{
    const zmq_api& api = *p.api;
    zmq_msg_t m;
    api.msg_init(&m);
    const std::int64_t cpu0 = thread_cpu_ns();
    int ends = 0;
    for (;;) {
        if (api.msg_recv(&m, s, 0) < 0)
            fatal(api, "echo zmq_msg_recv");
        if (api.msg_size(&m) != p.size) { // a client's end marker
            if (!p.rep)
                break;
            // A REP must answer before it may receive again.
            if (api.msg_send(&m, s, 0) < 0)
                fatal(api, "echo: answering an end marker");
            if (++ends == p.clients)
                break;
            continue;
        }
        if (!send_counting_stalls(api, &m, s, w.stalls, w.live))
            fatal(api, "echo zmq_msg_send");
        ++w.handled;
    }
    w.cpu_ns = thread_cpu_ns() - cpu0;
    api.msg_close(&m);
}

} // namespace

void run_echo_peer(const zmq_api& api, const scenario_options& o, std::size_t size, const std::string& endpoint,
                   peer_block& b)
{
    pingpong_params p;
    p.api = &api;
    p.size = size;
    p.opts = &o;
    session ses(api, o.lib);
    void* s = ses.socket(ZMQ_PAIR, "PAIR");
    ses.connect(s, endpoint);
    std::string err;
    if (!pin_current_thread(cpu_for(o, 1), err))
        fatal(api, err, false);
    worker_state w;
    echo_loop(p, s, w);
    b.handled = w.handled;
    b.cpu_ns = w.cpu_ns;
    b.stalls = w.stalls;
    b.cpu = cpu_for(o, 1);
    wait_for_release(b);
}

run_result run_pingpong(const run_request& req, run_result r)
{
    const zmq_api& api = *req.api;
    const scenario_options& o = *req.opts;
    const bool rr = o.scenario == scenario_kind::reqrep;
    pingpong_params p;
    p.api = &api;
    p.size = req.size;
    p.warmup = o.warmup;
    p.count = o.effective_count();
    p.duration_ns = o.duration_s > 0 ? static_cast<std::int64_t>(o.duration_s * 1e9) : 0;
    p.rate = o.rate;
    p.rep = rr;
    p.clients = rr ? o.effective_peers() : 1;
    p.opts = &o;
    r.a_role = "client";
    r.b_role = "echo";

    // Setup (may throw setup_failure; nothing runs yet).
    session ses(api, o.lib);
    std::vector<void*> clients;
    void* echo = nullptr;
    std::string connect_to;
    std::unique_ptr<peer_process> peer;
    if (o.cross_process) {
        // The client binds; the echo is another process that connects.
        clients.push_back(ses.socket(ZMQ_PAIR, "PAIR"));
        connect_to = ses.bind(clients.back(), r.endpoint);
        peer = std::make_unique<peer_process>();
        peer->start("echo", {connect_to}, api, req.size);
    } else {
        echo = ses.socket(rr ? ZMQ_REP : ZMQ_PAIR, rr ? "REP" : "PAIR");
        connect_to = ses.bind(echo, r.endpoint);
        for (int i = 0; i < p.clients; ++i) {
            clients.push_back(ses.socket(rr ? ZMQ_REQ : ZMQ_PAIR, rr ? "REQ" : "PAIR"));
            ses.connect(clients.back(), connect_to);
        }
    }
    r.endpoint = connect_to;
    std::fputs(format_run_header(r, o).c_str(), req.out);
    std::fflush(req.out);

    // Workers: client 0 is thread 0 (the measuring CPU), the echo thread 1, client i >= 1
    // thread i + 1.
    std::vector<std::unique_ptr<worker_state>> cw;
    for (int i = 0; i < p.clients; ++i)
        cw.push_back(std::make_unique<worker_state>());
    auto ew = std::make_unique<worker_state>();
    completion done(p.clients + (peer ? 0 : 1));
    monitor_config mc;
    mc.opts = &o;
    mc.api = &api;
    mc.size = req.size;
    mc.out = req.out;
    for (auto& w : cw)
        mc.workers.push_back(&w->live);
    mc.workers.push_back(peer ? &peer->block().live : &ew->live);

    const run_in_progress progress(r, mc);
    const std::int64_t proc0 = process_cpu_ns();
    std::vector<std::thread> threads;
    try {
        if (!peer)
            threads.emplace_back([&] { run_worker(api, cpu_for(o, 1), done, *ew, [&] { echo_loop(p, echo, *ew); }); });
        for (int i = 0; i < p.clients; ++i) {
            worker_state& w = *cw[static_cast<std::size_t>(i)];
            void* s = clients[static_cast<std::size_t>(i)];
            const int k = i == 0 ? 0 : i + 1;
            threads.emplace_back([&, s, k] { run_worker(api, cpu_for(o, k), done, w, [&] { client_loop(p, s, w); }); });
        }
    } catch (const std::exception& e) {
        fatal(api, std::string("cannot start a thread: ") + e.what(), false);
    }
    r.intervals = run_monitor(mc, done);
    for (std::thread& t : threads)
        t.join();
    const std::int64_t proc_ns = process_cpu_ns() - proc0;
    if (peer) {
        std::string why;
        if (!peer->wait(why))
            fatal(api, why, false);
        const peer_block& b = peer->block();
        ew->handled = b.handled;
        ew->cpu_ns = b.cpu_ns;
        ew->stalls = b.stalls;
    }

    histogram merged;
    std::int64_t first = INT64_MAX;
    std::int64_t last = 0;
    std::uint64_t handled = 0;
    std::int64_t client_cpu = 0;
    for (const auto& w : cw) {
        merged.merge(w->latency_ns);
        r.sent += w->sent;
        r.received += w->received;
        r.hwm_stalls += w->stalls;
        handled += w->handled;
        client_cpu += w->cpu_ns;
        if (w->received != 0) {
            first = std::min(first, w->first_ns);
            last = std::max(last, w->last_ns);
        }
    }
    r.hwm_stalls += ew->stalls;
    if (r.received != 0 && last > first) {
        r.elapsed_s = static_cast<double>(last - first) / 1e9;
        r.msgs_per_s = static_cast<double>(r.received) / r.elapsed_s;
        r.mb_per_s = r.msgs_per_s * static_cast<double>(req.size) / 1e6;
        r.mb_per_s_both_ways = 2 * r.mb_per_s; // the request and its echo, same size
    }
    r.latency = summarize_latency(merged, "rtt");
    if (handled != 0) {
        r.cpu_ns_a = static_cast<double>(client_cpu) / static_cast<double>(handled);
        r.cpu_ns_process = static_cast<double>(proc_ns) / static_cast<double>(handled);
    }
    if (ew->handled != 0)
        r.cpu_ns_b = static_cast<double>(ew->cpu_ns) / static_cast<double>(ew->handled);
    return r;
}

} // namespace zmx::perf
