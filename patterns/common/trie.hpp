// Subscription tries for PUB/SUB (RFC 29: a subscription is a prefix of the first frame).
//
// - prefix_trie: counted prefixes (SUB side): add/rm report the first add and last
//   remove of a prefix, matches() tells whether any subscribed prefix starts the data.
// - pipe_trie: prefixes with the set of pipes subscribed to each (PUB side): match()
//   visits every pipe with a matching prefix once per call, walking the data once
//   (O(length + matches)), however many subscriptions there are.
//
// Nodes keep their children in a vector sorted by byte; an empty branch is pruned on
// remove. Owner: the socket's thread. Allocation failures throw std::bad_alloc, which the
// socket turns into ENOMEM.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pipe.hpp"

namespace zmx::patterns {

// Longest subscription kept. The tries spend a node per byte and walk them recursively
// on removal and teardown: a hostile subscriber sending a megabyte-long topic would cost
// ~100 MB and a stack overflow. Longer subscriptions are refused (SUB: EINVAL) or
// ignored (from peers).
inline constexpr std::size_t max_subscription = 8192;

template <typename Payload>
class basic_trie {
public:
    struct node {
        Payload payload{};
        std::vector<std::pair<std::uint8_t, std::unique_ptr<node>>> children;

        node* child(std::uint8_t c) const noexcept
        {
            auto it = std::lower_bound(children.begin(), children.end(), c,
                                       [](const auto& e, std::uint8_t v) { return e.first < v; });
            return it != children.end() && it->first == c ? it->second.get() : nullptr;
        }
        node& make_child(std::uint8_t c)
        {
            auto it = std::lower_bound(children.begin(), children.end(), c,
                                       [](const auto& e, std::uint8_t v) { return e.first < v; });
            if (it != children.end() && it->first == c) return *it->second;
            return *children.insert(it, {c, std::make_unique<node>()})->second;
        }
    };

    node& find_or_make(std::string_view key)
    {
        node* n = &m_root;
        for (const char ch : key) n = &n->make_child(static_cast<std::uint8_t>(ch));
        return *n;
    }
    node* find(std::string_view key) noexcept
    {
        node* n = &m_root;
        for (const char ch : key) {
            n = n->child(static_cast<std::uint8_t>(ch));
            if (n == nullptr) return nullptr;
        }
        return n;
    }
    // Removes nodes along `key` left without payload or children.
    template <typename Empty>
    void prune(std::string_view key, Empty&& empty) noexcept
    {
        prune_at(m_root, key, 0, empty);
    }
    // Visits every node whose key prefixes `data` (root first).
    template <typename Visit>
    void walk(std::string_view data, Visit&& visit) const
    {
        const node* n = &m_root;
        visit(*n, std::size_t{0});
        for (std::size_t i = 0; i < data.size(); ++i) {
            n = n->child(static_cast<std::uint8_t>(data[i]));
            if (n == nullptr) return;
            visit(*n, i + 1);
        }
    }
    // Visits every node with its full key.
    template <typename Visit>
    void each(Visit&& visit) const
    {
        std::string key;
        each_at(m_root, key, visit);
    }
    node& root() noexcept { return m_root; }
    const node& root() const noexcept { return m_root; }
    // drop(payload) at every node, then removes the nodes left without payload or
    // children. Allocates nothing.
    template <typename Drop, typename Empty>
    void purge(Drop&& drop, Empty&& empty) noexcept
    {
        purge_at(m_root, drop, empty);
    }

private:
    template <typename Drop, typename Empty>
    static void purge_at(node& n, Drop& drop, Empty& empty) noexcept
    {
        drop(n.payload);
        for (auto& e : n.children) purge_at(*e.second, drop, empty);
        std::erase_if(n.children, [&](const auto& e) { return e.second->children.empty() && empty(e.second->payload); });
    }

    template <typename Empty>
    bool prune_at(node& n, std::string_view key, std::size_t depth, Empty& empty) noexcept
    {
        if (depth < key.size()) {
            const auto c = static_cast<std::uint8_t>(key[depth]);
            auto it = std::lower_bound(n.children.begin(), n.children.end(), c,
                                       [](const auto& e, std::uint8_t v) { return e.first < v; });
            if (it != n.children.end() && it->first == c && prune_at(*it->second, key, depth + 1, empty)) {
                n.children.erase(it);
            }
        }
        return &n != &m_root && n.children.empty() && empty(n.payload);
    }
    template <typename Visit>
    static void each_at(const node& n, std::string& key, Visit& visit)
    {
        visit(n, std::string_view(key));
        for (const auto& [c, child] : n.children) {
            key.push_back(static_cast<char>(c));
            each_at(*child, key, visit);
            key.pop_back();
        }
    }

    node m_root;
};

class prefix_trie {
public:
    // True when the prefix was not subscribed before.
    bool add(std::string_view prefix)
    {
        auto& n = m_trie.find_or_make(prefix);
        return n.payload++ == 0;
    }
    // True when the last subscription of the prefix went; false if it was not there.
    bool rm(std::string_view prefix) noexcept
    {
        auto* n = m_trie.find(prefix);
        if (n == nullptr || n->payload == 0) return false;
        const bool last = --n->payload == 0;
        if (last) m_trie.prune(prefix, [](std::uint32_t c) { return c == 0; });
        return last;
    }
    // True when "" is subscribed: everything matches.
    [[nodiscard]] bool matches_all() const noexcept { return m_trie.root().payload != 0; }
    [[nodiscard]] bool matches(std::string_view data) const
    {
        bool hit = false;
        m_trie.walk(data, [&](const auto& n, std::size_t) { hit = hit || n.payload != 0; });
        return hit;
    }
    // Every subscribed prefix (once), for re-sending subscriptions.
    template <typename Fn>
    void each(Fn&& fn) const
    {
        m_trie.each([&](const auto& n, std::string_view key) {
            if (n.payload != 0) fn(key);
        });
    }

private:
    basic_trie<std::uint32_t> m_trie;
};

class pipe_trie {
public:
    // True when no pipe had the prefix before.
    bool add(std::string_view prefix, core::pipe* p)
    {
        auto& pipes = m_trie.find_or_make(prefix).payload;
        if (std::find(pipes.begin(), pipes.end(), p) != pipes.end()) return false;
        pipes.push_back(p);
        return pipes.size() == 1;
    }
    // True when p was the last pipe with the prefix. `removed` says whether p had it.
    bool rm(std::string_view prefix, core::pipe* p, bool& removed) noexcept
    {
        removed = false;
        auto* n = m_trie.find(prefix);
        if (n == nullptr) return false;
        auto& pipes = n->payload;
        auto it = std::find(pipes.begin(), pipes.end(), p);
        if (it == pipes.end()) return false;
        pipes.erase(it);
        removed = true;
        const bool last = pipes.empty();
        if (last) m_trie.prune(prefix, [](const std::vector<core::pipe*>& v) { return v.empty(); });
        return last;
    }
    // Removes every subscription of p; `gone(prefix)` for each prefix no pipe has now.
    // p is gone from the trie even when this throws (out of memory collecting the
    // prefixes, or from `gone`): the prefixes not reported yet are then dropped without a
    // report, since match() would hand a stale pointer to its caller.
    template <typename Gone>
    void rm_pipe(core::pipe* p, Gone&& gone)
    {
        try {
            std::vector<std::string> emptied;
            m_trie.each([&](const auto& n, std::string_view key) {
                const auto& pipes = n.payload;
                if (std::find(pipes.begin(), pipes.end(), p) != pipes.end()) emptied.emplace_back(key);
            });
            for (const std::string& key : emptied) {
                bool removed = false;
                if (rm(key, p, removed)) gone(std::string_view(key));
            }
        } catch (...) {
            m_trie.purge([p](std::vector<core::pipe*>& pipes) { std::erase(pipes, p); },
                         [](const std::vector<core::pipe*>& pipes) { return pipes.empty(); });
            throw;
        }
    }
    // The pipes subscribed to "" (every message matches them).
    [[nodiscard]] const std::vector<core::pipe*>& all_pipes() const noexcept { return m_trie.root().payload; }
    // Calls fn(pipe) for each pipe with a prefix of data; a pipe may be visited more than
    // once (several of its prefixes match): callers dedupe.
    template <typename Fn>
    void match(std::string_view data, Fn&& fn) const
    {
        m_trie.walk(data, [&](const auto& n, std::size_t) {
            for (core::pipe* p : n.payload) fn(p);
        });
    }

private:
    basic_trie<std::vector<core::pipe*>> m_trie;
};

} // namespace zmx::patterns
