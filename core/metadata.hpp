// Message properties: an immutable, reference-counted set of name/value pairs shared by
// every message that arrives on one connection (ZMTP READY properties, ZAP User-Id,
// Peer-Address). Built once per connection, then only read, from any thread.
#pragma once

#include <atomic>
#include <string>
#include <utility>
#include <vector>

namespace zmx::core {

class metadata {
public:
    using entries = std::vector<std::pair<std::string, std::string>>;

    static metadata* create(entries e) { return new metadata(std::move(e)); }

    void add_ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept
    {
        // acq_rel: the last owner must see every other owner's reads finished.
        if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    // Case-insensitive lookup as ZMTP property names are; nullptr when absent.
    [[nodiscard]] const char* get(const char* name) const noexcept;
    [[nodiscard]] const entries& all() const noexcept { return m_entries; }

private:
    explicit metadata(entries e) : m_entries(std::move(e)) {}
    ~metadata() = default;
    std::atomic<int> m_refs{1};
    entries m_entries;
};

} // namespace zmx::core
