// thr (PUSH -> PULL) and fanout (PUB -> N SUBs): one sender streams data messages, the
// receivers count them. Data messages of 8 bytes or more carry a sequence number (bytes
// 0-7), so receivers see drops as gaps; paced runs (--rate) of 16 bytes or more also
// carry the intended send time (bytes 8-15), so receivers measure one-way latency from
// it (both threads read the same CLOCK_MONOTONIC). Unpaced runs measure no latency: the
// time would be queueing behind the HWM, and reading the clock per message would slow the
// very rate being measured.
//
// fanout start: the PUB sends probes until every SUB has received one (subscriptions
// travel asynchronously; data sent before would be lost to a slow joiner). End: the PUB
// repeats the end marker until every SUB has seen it (a PUB drops at the HWM, markers too).
//
// Warm-up (--warmup N, both scenarios): N data messages, sent as fast as possible (not
// paced, not time-stamped), then the warm-up marker, repeated like the end marker until
// every receiver has seen it. Receivers count nothing before it; the sender's clock starts
// once every receiver has seen it, so the queues are empty when the measured part starts.
// Sequence numbers restart at 0 after the warm-up.
#include "zmx_perf/harness.hpp"
#include "zmx_perf/peer.hpp"
#include "zmx_perf/scenarios.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

namespace zmx::perf {

namespace {

struct stream_params {
    const zmq_api* api = nullptr;
    std::size_t size = 0;
    std::uint64_t warmup = 0;     // messages before the clock starts
    std::uint64_t count = 0;      // 0: until duration_ns
    std::int64_t duration_ns = 0;
    double rate = 0;
    const scenario_options* opts = nullptr;
};

constexpr char ctl_warm = 'W'; // the warm-up is over

constexpr std::int64_t fanout_sync_limit_ns = 5'000'000'000;

void sleep_ms(int ms)
{
    const timespec ts{0, ms * 1'000'000L};
    nanosleep(&ts, nullptr);
}

// Waits about a millisecond between control messages; a direct-mode (ZMX_DIRECT) sender
// spends it running its engine, which only runs inside calls on the socket.
void pause_driving(const stream_params& p, void* s)
{
    if (!p.opts->lib.direct || !p.api->is_zmx) {
        sleep_ms(1);
        return;
    }
    const std::int64_t until = now_ns() + 1'000'000;
    drive_until(*p.api, s, true, [&] { return now_ns() >= until; });
}

// Sends data message i (sequence number i; intended send time t_send when stamped).
void send_data(const stream_params& p, void* s, worker_state& w, std::uint64_t i, std::int64_t t_send, bool stamp)
{
    const zmq_api& api = *p.api;
    zmq_msg_t m;
    if (p.opts->lib.claim && api.msg_init_claim != nullptr) {
        if (api.msg_init_claim(&m, s, p.size) < 0)
            fatal(api, "zmx_msg_init_claim");
    } else if (api.msg_init_size(&m, p.size) != 0) {
        fatal(api, "zmq_msg_init_size");
    }
    if (p.size >= 8) {
        void* d = api.msg_data(&m);
        put_u64(d, 0, i);
        if (stamp)
            put_u64(d, 8, static_cast<std::uint64_t>(t_send));
    }
    if (!send_counting_stalls(api, &m, s, w.stalls, w.live))
        fatal(api, "sender zmq_msg_send");
}

// The warm-up: p.warmup messages, then the marker until every receiver has seen it (the
// watchdog ends a run whose receivers stop making progress).
void warm_up(const stream_params& p, void* s, worker_state& w, fanout_sync& sync)
{
    const zmq_api& api = *p.api;
    if (p.warmup == 0)
        return;
    for (std::uint64_t i = 0; i < p.warmup; ++i) {
        inject_failure(api, *p.opts, i);
        send_data(p, s, w, i, 0, false);
        bump(w.live.warm);
    }
    w.stalls = 0; // stalls before the clock are not the measured run's
    while (sync.warmed.load(std::memory_order_acquire) < sync.subs) {
        if (!send_control(api, s, p.size, ctl_warm, ZMQ_DONTWAIT) && api.errno_fn() != EAGAIN)
            fatal(api, "sender: sending the warm-up marker");
        pause_driving(p, s);
    }
}

void sender_loop(const stream_params& p, void* s, worker_state& w, fanout_sync& sync, bool fan)
{
    const zmq_api& api = *p.api;
    if (fan) {
        const std::int64_t give_up = now_ns() + fanout_sync_limit_ns;
        while (sync.ready.load(std::memory_order_acquire) < sync.subs) {
            if (!send_control(api, s, p.size, ctl_probe, ZMQ_DONTWAIT) && api.errno_fn() != EAGAIN)
                fatal(api, "PUB: sending a probe");
            if (now_ns() > give_up)
                fatal(api,
                      std::to_string(sync.subs - sync.ready.load()) + " of " + std::to_string(sync.subs) +
                          " SUBs received nothing within 5 s",
                      false);
            pause_driving(p, s);
        }
    }
    warm_up(p, s, w, sync);
    const double period_ns = p.rate > 0 ? 1e9 / p.rate : 0;
    const bool stamp = period_ns > 0 && p.size >= 16;
    const std::int64_t cpu0 = thread_cpu_ns();
    const std::int64_t t0 = now_ns();
    const std::int64_t deadline = p.duration_ns > 0 ? t0 + p.duration_ns : INT64_MAX;
    w.first_ns = t0;
    for (std::uint64_t i = 0;; ++i) {
        if (p.count != 0 && i >= p.count)
            break;
        std::int64_t t_send = 0;
        if (period_ns > 0) {
            t_send = t0 + static_cast<std::int64_t>(static_cast<double>(i) * period_ns);
            if (t_send >= deadline)
                break;
            wait_until(t_send);
        } else if ((i & 255) == 0 && deadline != INT64_MAX && now_ns() >= deadline) {
            break;
        }
        inject_failure(api, *p.opts, p.warmup + i);
        send_data(p, s, w, i, t_send, stamp);
        ++w.sent;
        bump(w.live.tx);
    }
    w.last_ns = now_ns();
    w.handled = w.sent;
    w.cpu_ns = thread_cpu_ns() - cpu0;
    if (!fan) {
        if (!send_control(api, s, p.size, ctl_end, 0))
            fatal(api, "sender: sending the end marker");
        drive_until(api, s, p.opts->lib.direct,
                    [&] { return sync.finished.load(std::memory_order_acquire) >= sync.subs; });
        return;
    }
    const std::int64_t give_up = now_ns() + fanout_sync_limit_ns;
    while (sync.finished.load(std::memory_order_acquire) < sync.subs) {
        if (!send_control(api, s, p.size, ctl_end, ZMQ_DONTWAIT) && api.errno_fn() != EAGAIN)
            fatal(api, "PUB: sending the end marker");
        if (now_ns() > give_up)
            fatal(api, "SUBs did not see the end marker within 5 s", false);
        pause_driving(p, s);
    }
}

void receiver_loop(const stream_params& p, void* s, worker_state& w, fanout_sync& sync, bool fan)
{
    const zmq_api& api = *p.api;
    const bool sequenced = p.size >= 8;
    const bool timed = p.rate > 0 && p.size >= 16;
    zmq_msg_t m;
    api.msg_init(&m);
    const std::int64_t cpu0 = thread_cpu_ns();
    std::uint64_t expected = 0;
    bool ready = false;
    bool warming = p.warmup > 0;
    for (;;) {
        if (api.msg_recv(&m, s, 0) < 0)
            fatal(api, "receiver zmq_msg_recv");
        const std::size_t n = api.msg_size(&m);
        if (n != p.size) {
            const char code = n != 0 ? static_cast<const char*>(api.msg_data(&m))[0] : '\0';
            if (code == ctl_end) {
                // The marker follows the last message on the same pipe: its arrival ends the
                // measured interval (without a clock read per message).
                w.last_ns = now_ns();
                sync.finished.fetch_add(1, std::memory_order_release);
                break;
            }
            if (code == ctl_probe) {
                if (!ready && fan) {
                    ready = true;
                    sync.ready.fetch_add(1, std::memory_order_release);
                }
                continue;
            }
            if (code == ctl_warm) {
                if (warming) {
                    warming = false;
                    sync.warmed.fetch_add(1, std::memory_order_release);
                }
                continue; // the sender repeats it until every receiver has seen one
            }
            ++w.wrong;
            continue;
        }
        if (warming) {
            bump(w.live.warm);
            continue;
        }
        if (w.received == 0)
            w.first_ns = now_ns();
        ++w.received;
        bump(w.live.rx);
        if (!sequenced)
            continue;
        const void* d = api.msg_data(&m);
        const std::uint64_t seq = get_u64(d, 0);
        if (seq > expected) {
            w.drops += seq - expected;
            bump(w.live.drops, seq - expected);
        } else if (seq < expected) {
            ++w.wrong; // duplicate or reordered
        }
        expected = seq + 1;
        if (timed) {
            const std::int64_t lat = now_ns() - static_cast<std::int64_t>(get_u64(d, 8));
            const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(0, lat));
            w.latency_ns.record(v);
            bump(w.live.lat_sum_ns, v);
            bump(w.live.lat_n);
        }
    }
    w.handled = w.received;
    w.cpu_ns = thread_cpu_ns() - cpu0;
    api.msg_close(&m);
}

stream_params params_for(const zmq_api& api, const scenario_options& o, std::size_t size)
{
    stream_params p;
    p.api = &api;
    p.size = size;
    p.count = o.effective_count();
    p.duration_ns = o.duration_s > 0 ? static_cast<std::int64_t>(o.duration_s * 1e9) : 0;
    p.rate = o.rate;
    p.warmup = o.warmup;
    p.opts = &o;
    return p;
}

// --cross-process: receiver i binds its own endpoint (the sender process connects to all).
std::string receiver_endpoint(const std::string& e, int i)
{
    if (i == 0)
        return e;
    if (e.rfind("tcp://", 0) == 0)
        return e.substr(0, e.rfind(':')) + ":*";
    return e + "-" + std::to_string(i);
}

} // namespace

void run_sender_peer(const zmq_api& api, const scenario_options& o, std::size_t size,
                     const std::vector<std::string>& endpoints, peer_block& b, bool bind)
{
    const bool fan = o.scenario == scenario_kind::fanout;
    const stream_params p = params_for(api, o, size);
    session ses(api, o.lib);
    void* s = ses.socket(fan ? ZMQ_PUB : ZMQ_PUSH, fan ? "PUB" : "PUSH");
    if (bind) {
        const std::string at = ses.bind(s, endpoints[0]);
        std::snprintf(b.sync.endpoint, sizeof b.sync.endpoint, "%s", at.c_str());
        b.sync.bound.store(1, std::memory_order_release);
    } else {
        for (const std::string& e : endpoints)
            ses.connect(s, e);
    }
    std::string err;
    if (!pin_current_thread(cpu_for(o, 1), err))
        fatal(api, err, false);
    worker_state w;
    sender_loop(p, s, w, b.sync, fan);
    b.sent = w.sent;
    b.stalls = w.stalls;
    b.handled = w.handled;
    b.first_ns = w.first_ns;
    b.last_ns = w.last_ns;
    b.cpu_ns = w.cpu_ns;
    b.cpu = cpu_for(o, 1);
    drive_until(api, s, o.lib.direct, [&] { return b.release.load(std::memory_order_acquire) != 0; });
    wait_for_release(b);
}

run_result run_stream(const run_request& req, run_result r)
{
    const zmq_api& api = *req.api;
    const scenario_options& o = *req.opts;
    const bool fan = o.scenario == scenario_kind::fanout;
    const stream_params p = params_for(api, o, req.size);
    const int receivers = fan ? o.effective_peers() : 1;
    r.a_role = "receiver";
    r.b_role = "sender";

    // Setup (may throw setup_failure; nothing runs yet). The sender binds for fanout (one
    // PUB, many SUBs), the receiver for thr (like libzmq's local_thr).
    session ses(api, o.lib);
    void* sender = nullptr;
    std::vector<void*> rx;
    std::unique_ptr<peer_process> peer;
    // A SUB subscribed to everything, connected to `to`.
    auto connected_sub = [&](const std::string& to) {
        void* sub = ses.socket(ZMQ_SUB, "SUB");
        if (api.setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) != 0)
            throw setup_failure{"error", "zmq_setsockopt(ZMQ_SUBSCRIBE): " + api.last_error()};
        ses.connect(sub, to);
        return sub;
    };
    if (o.cross_process && fan) {
        // The sender is another process whose PUB binds (one PUB, many SUBs, as in the
        // in-process run: over shm that is what gets the broadcast log); the SUBs, here,
        // connect to what it bound.
        peer = std::make_unique<peer_process>();
        peer->block().sync.subs = receivers;
        peer->start("publisher", {r.endpoint}, api, req.size);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (peer->block().sync.bound.load(std::memory_order_acquire) == 0) {
            if (std::chrono::steady_clock::now() > deadline)
                throw setup_failure{"error", "the publisher process did not bind " + r.endpoint};
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        const std::string connect_to = peer->block().sync.endpoint;
        for (int i = 0; i < receivers; ++i)
            rx.push_back(connected_sub(connect_to));
        r.endpoint = connect_to;
    } else if (o.cross_process) {
        // The receiver binds; the sender is another process that connects to it.
        std::vector<std::string> eps;
        for (int i = 0; i < receivers; ++i) {
            void* s = ses.socket(fan ? ZMQ_SUB : ZMQ_PULL, fan ? "SUB" : "PULL");
            if (fan && api.setsockopt(s, ZMQ_SUBSCRIBE, "", 0) != 0)
                throw setup_failure{"error", "zmq_setsockopt(ZMQ_SUBSCRIBE): " + api.last_error()};
            eps.push_back(ses.bind(s, receiver_endpoint(r.endpoint, i)));
            rx.push_back(s);
        }
        r.endpoint = eps[0];
        peer = std::make_unique<peer_process>();
        peer->block().sync.subs = receivers;
        peer->start("sender", eps, api, req.size);
    } else if (fan) {
        sender = ses.socket(ZMQ_PUB, "PUB");
        const std::string connect_to = ses.bind(sender, r.endpoint);
        for (int i = 0; i < receivers; ++i)
            rx.push_back(connected_sub(connect_to));
        r.endpoint = connect_to;
    } else {
        void* pull = ses.socket(ZMQ_PULL, "PULL");
        const std::string connect_to = ses.bind(pull, r.endpoint);
        sender = ses.socket(ZMQ_PUSH, "PUSH");
        ses.connect(sender, connect_to);
        rx.push_back(pull);
        r.endpoint = connect_to;
    }
    std::fputs(format_run_header(r, o).c_str(), req.out);
    std::fflush(req.out);

    // Receiver 0 is thread 0 (the measuring CPU), the sender thread 1, receiver i >= 1
    // thread i + 1.
    std::vector<std::unique_ptr<worker_state>> rw;
    for (int i = 0; i < receivers; ++i)
        rw.push_back(std::make_unique<worker_state>());
    auto sw = std::make_unique<worker_state>();
    fanout_sync local_sync;
    local_sync.subs = receivers;
    fanout_sync& sync = peer ? peer->block().sync : local_sync;
    completion done(receivers + (peer ? 0 : 1));
    monitor_config mc;
    mc.opts = &o;
    mc.api = &api;
    mc.size = req.size;
    mc.out = req.out;
    for (auto& w : rw)
        mc.workers.push_back(&w->live);
    mc.workers.push_back(peer ? &peer->block().live : &sw->live);

    const run_in_progress progress(r, mc);
    const std::int64_t proc0 = process_cpu_ns();
    std::vector<std::thread> threads;
    try {
        for (int i = 0; i < receivers; ++i) {
            worker_state& w = *rw[static_cast<std::size_t>(i)];
            void* s = rx[static_cast<std::size_t>(i)];
            const int k = i == 0 ? 0 : i + 1;
            threads.emplace_back(
                [&, s, k] { run_worker(api, cpu_for(o, k), done, w, [&] { receiver_loop(p, s, w, sync, fan); }); });
        }
        if (!peer)
            threads.emplace_back(
                [&] { run_worker(api, cpu_for(o, 1), done, *sw, [&] { sender_loop(p, sender, *sw, sync, fan); }); });
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
        sw->sent = b.sent;
        sw->stalls = b.stalls;
        sw->handled = b.handled;
        sw->first_ns = b.first_ns;
        sw->last_ns = b.last_ns;
        sw->cpu_ns = b.cpu_ns;
    }

    histogram merged;
    std::int64_t first = INT64_MAX;
    std::int64_t last = 0;
    std::uint64_t wrong = 0;
    std::uint64_t gaps = 0;
    std::uint64_t spans = 0; // sum over receivers of (received - 1): intervals between arrivals
    std::int64_t rx_cpu = 0;
    for (const auto& w : rw) {
        merged.merge(w->latency_ns);
        r.received += w->received;
        gaps += w->drops;
        wrong += w->wrong;
        rx_cpu += w->cpu_ns;
        if (w->received != 0) {
            first = std::min(first, w->first_ns);
            last = std::max(last, w->last_ns);
            spans += w->received - 1;
        }
    }
    r.sent = sw->sent;
    r.hwm_stalls = sw->stalls;
    const std::uint64_t expected = r.sent * static_cast<std::uint64_t>(receivers);
    // With sequence numbers, gaps (plus anything lost after the last message seen);
    // without, what did not arrive.
    r.drops = req.size >= 8 ? gaps + (expected > r.received + gaps ? expected - r.received - gaps : 0)
                            : (expected > r.received ? expected - r.received : 0);
    if (spans != 0 && last > first) {
        r.elapsed_s = static_cast<double>(last - first) / 1e9;
        r.msgs_per_s = static_cast<double>(spans) / r.elapsed_s;
        r.mb_per_s = r.msgs_per_s * static_cast<double>(req.size) / 1e6;
    }
    // The sender's own rate: from its clock start to its last data message (it may run
    // ahead of the receivers: a PUB drops what they cannot take).
    if (sw->sent != 0 && sw->last_ns > sw->first_ns)
        r.sent_per_s = static_cast<double>(sw->sent) / (static_cast<double>(sw->last_ns - sw->first_ns) / 1e9);
    r.delivered_pct = delivered_percent(r.received, r.sent, receivers);
    r.latency = summarize_latency(merged, "one_way");
    if (r.received != 0) {
        r.cpu_ns_a = static_cast<double>(rx_cpu) / static_cast<double>(r.received);
        r.cpu_ns_process = static_cast<double>(proc_ns) / static_cast<double>(r.received);
    }
    if (sw->handled != 0)
        r.cpu_ns_b = static_cast<double>(sw->cpu_ns) / static_cast<double>(sw->handled);
    if (wrong != 0) {
        r.status = "error";
        r.error = std::to_string(wrong) + " messages arrived out of order or with an unexpected size";
    }
    check_delivery(r);
    return r;
}

} // namespace zmx::perf
