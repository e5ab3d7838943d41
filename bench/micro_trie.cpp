// Subscription matching micro-benchmarks (patterns/common/trie.hpp), single thread.
//
// - pipe_trie::match (PUB side): one 32-byte topic against 1, 100 and 10 000
//   subscriptions spread over 64 pipes.
// - prefix_trie::matches (SUB side): a stream of 1024 topics (every 8th is the topic
//   above, the rest random) against the same subscription sets.
// - add/rm churn: one subscribe + unsubscribe per iteration on top of a standing set.
//
// Subscriptions are random prefixes (4-16 letters from 'a'-'p') from a fixed seed, plus
// about 1% that are prefixes of the topic (1-32 bytes; at least one), so every run builds
// the same tries and some subscriptions match. (Random prefixes are at least 4 letters:
// with 10 000 of them, shorter ones would cover every 1-letter prefix and match all.)
// match() and matches() allocate nothing; add() allocates trie nodes (and rm() frees
// them when it prunes): that is part of the churn numbers.
// items/s counts match calls (or add+rm pairs); bytes/s counts topic bytes (the whole
// topic, however far the walk gets before a missing child ends it).
#include "common/trie.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using zmx::core::pipe;
using zmx::patterns::pipe_trie;
using zmx::patterns::prefix_trie;

constexpr std::uint64_t seed = 0x5eed2024;
constexpr std::size_t pipe_count = 64;
constexpr std::size_t topic_size = 32;

// Stand-ins for pipes: the tries only store and pass the pointers on, never dereference
// them (pipes cannot be made outside a pipe_shared). Slot pipe_count is the churn pipe,
// which holds no standing subscription.
alignas(64) std::byte pipe_storage[(pipe_count + 1) * 64];
pipe* fake_pipe(std::size_t i) noexcept
{
    return reinterpret_cast<pipe*>(pipe_storage + (i % pipe_count) * 64);
}
pipe* churn_pipe() noexcept
{
    return reinterpret_cast<pipe*>(pipe_storage + pipe_count * 64);
}

std::string random_string(std::mt19937_64& rng, std::size_t min_len, std::size_t max_len)
{
    std::uniform_int_distribution<std::size_t> len(min_len, max_len);
    std::uniform_int_distribution<int> letter('a', 'p');
    std::string s(len(rng), '\0');
    for (char& c : s) c = static_cast<char>(letter(rng));
    return s;
}

struct workload {
    std::string topic;                       // the PUB-side topic
    std::vector<std::string> subscriptions;  // n prefixes, ~1% of them prefixes of topic
    std::vector<std::string> topics;         // SUB-side stream: topic-like strings
};

workload make_workload(std::size_t n)
{
    std::mt19937_64 rng(seed);
    workload w;
    w.topic = random_string(rng, topic_size, topic_size);
    std::uniform_int_distribution<std::size_t> prefix_len(1, topic_size);
    std::uniform_int_distribution<int> percent(0, 99);
    for (std::size_t i = 0; i < n; ++i) {
        if (i == 0 || percent(rng) == 0) {
            w.subscriptions.push_back(w.topic.substr(0, prefix_len(rng)));
        } else {
            w.subscriptions.push_back(random_string(rng, 4, 16));
        }
    }
    // Every 8th topic of the stream is the matching topic; the rest are random (one still
    // matches when a random subscription happens to prefix it).
    for (std::size_t i = 0; i < 1024; ++i) {
        w.topics.push_back(i % 8 == 0 ? w.topic : random_string(rng, topic_size, topic_size));
    }
    return w;
}

// Args: subscriptions. Each call visits every (prefix, pipe) whose prefix starts the
// topic; the callback only counts them ("visits" per call is reported).
void bm_pipe_trie_match(benchmark::State& state)
{
    const auto n = static_cast<std::size_t>(state.range(0));
    const workload w = make_workload(n);
    pipe_trie trie;
    for (std::size_t i = 0; i < n; ++i) (void)trie.add(w.subscriptions[i], fake_pipe(i));
    std::uint64_t visits = 0;
    for (auto _ : state) {
        trie.match(w.topic, [&](pipe* p) {
            benchmark::DoNotOptimize(p);
            ++visits;
        });
    }
    state.counters["visits"] =
        benchmark::Counter(static_cast<double>(visits) / static_cast<double>(state.iterations()));
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(w.topic.size()));
}
BENCHMARK(bm_pipe_trie_match)->ArgName("subs")->Arg(1)->Arg(100)->Arg(10000);

// Args: subscriptions. SUB-side filtering of a stream of 1024 topics, one matches() per
// iteration ("hit_rate" is the share of topics that passed).
void bm_prefix_trie_matches(benchmark::State& state)
{
    const auto n = static_cast<std::size_t>(state.range(0));
    const workload w = make_workload(n);
    prefix_trie trie;
    for (const auto& s : w.subscriptions) (void)trie.add(s);
    std::size_t i = 0;
    std::uint64_t hits = 0;
    std::int64_t bytes = 0;
    for (auto _ : state) {
        const std::string& t = w.topics[i];
        i = (i + 1) % w.topics.size();
        const bool hit = trie.matches(t);
        benchmark::DoNotOptimize(hit);
        hits += hit ? 1 : 0;
        bytes += static_cast<std::int64_t>(t.size());
    }
    state.counters["hit_rate"] =
        benchmark::Counter(static_cast<double>(hits) / static_cast<double>(state.iterations()));
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(bytes);
}
BENCHMARK(bm_prefix_trie_matches)->ArgName("subs")->Arg(1)->Arg(100)->Arg(10000);

// Churn prefixes: fresh random strings from another seed, so most create (and prune)
// nodes below existing ones.
std::vector<std::string> churn_prefixes()
{
    std::mt19937_64 rng(seed + 1);
    std::vector<std::string> v;
    for (std::size_t i = 0; i < 1024; ++i) v.push_back(random_string(rng, 4, 16));
    return v;
}

// Args: standing subscriptions. One add() and one rm() of the same prefix per iteration
// (SUB side: ZMQ_SUBSCRIBE then ZMQ_UNSUBSCRIBE). Allocates and frees trie nodes.
void bm_prefix_trie_churn(benchmark::State& state)
{
    const auto n = static_cast<std::size_t>(state.range(0));
    const workload w = make_workload(n);
    const std::vector<std::string> churn = churn_prefixes();
    prefix_trie trie;
    for (const auto& s : w.subscriptions) (void)trie.add(s);
    std::size_t i = 0;
    for (auto _ : state) {
        const std::string& s = churn[i];
        i = (i + 1) % churn.size();
        benchmark::DoNotOptimize(trie.add(s));
        benchmark::DoNotOptimize(trie.rm(s));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_prefix_trie_churn)->ArgName("subs")->Arg(0)->Arg(100)->Arg(10000);

// Args: standing subscriptions. PUB side: a pipe with no standing subscription subscribes
// and unsubscribes a prefix per iteration (so the standing set never changes). Allocates
// and frees trie nodes and pipe vectors.
void bm_pipe_trie_churn(benchmark::State& state)
{
    const auto n = static_cast<std::size_t>(state.range(0));
    const workload w = make_workload(n);
    const std::vector<std::string> churn = churn_prefixes();
    pipe_trie trie;
    for (std::size_t k = 0; k < n; ++k) (void)trie.add(w.subscriptions[k], fake_pipe(k));
    std::size_t i = 0;
    for (auto _ : state) {
        const std::string& s = churn[i];
        pipe* p = churn_pipe();
        i = (i + 1) % churn.size();
        benchmark::DoNotOptimize(trie.add(s, p));
        bool removed = false;
        benchmark::DoNotOptimize(trie.rm(s, p, removed));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_pipe_trie_churn)->ArgName("subs")->Arg(0)->Arg(100)->Arg(10000);

} // namespace

BENCHMARK_MAIN();
