#include "zmx_perf/scenarios.hpp"

#include "zmx_perf/harness.hpp"

namespace zmx::perf {

run_result run_scenario(const run_request& req)
{
    const scenario_options& o = *req.opts;
    const zmq_api& api = *req.api;
    run_result r;
    r.lib = api.name;
    r.lib_version = api.version;
    r.scenario = to_string(o.scenario);
    r.transport = to_string(o.transport);
    r.endpoint = make_endpoint(o, req.serial);
    r.size = req.size;
    r.run = req.run;
    r.peers = o.effective_peers();
    r.rate = o.rate;
    r.hwm = o.lib.hwm;
    r.warmup = o.warmup;
    r.security = o.lib.curve ? "curve" : "null";
    if (o.lib.idle)
        r.idle = api.is_zmx ? to_string(*o.lib.idle) : "n/a";
    const std::string bind_uri = r.endpoint;
    try {
        const bool pingpong = o.scenario == scenario_kind::lat || o.scenario == scenario_kind::reqrep;
        r = o.scenario == scenario_kind::hs ? run_handshakes(req, r)
            : pingpong                      ? run_pingpong(req, r)
                                            : run_stream(req, r);
    } catch (const setup_failure& f) {
        r.status = f.status;
        r.error = f.what;
    }
    if (o.endpoint.empty())
        remove_endpoint_file(bind_uri);
    return r;
}

} // namespace zmx::perf
