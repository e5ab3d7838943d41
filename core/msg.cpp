#include "msg.hpp"

#include <cerrno>
#include <cstdlib>
#include <new>
#include <strings.h>

#include "buffer_pool.hpp"
#include "metadata.hpp"

namespace zmx::core {

namespace {

enum buffer_kind : std::uint32_t {
    bk_heap = 0, // header and body in one malloc
    bk_user = 1, // header malloc'd, body is the caller's, freed through ffn
    bk_pool = 2, // header and body in one buffer_pool block; class in the upper bits
};

// A group name longer than the inline space; shared by copies, like a body.
} // namespace

struct long_group {
    std::atomic<std::uint32_t> refs;
    char name[msg::group_max + 1];
};

namespace {

void release_buffer(msg_buffer* b, void* data, bool shared) noexcept
{
    // A3 acq_rel: the last releaser must see all other owners' accesses to the body.
    if (shared && b->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if ((b->kind & 0xff) == bk_pool) {
        buffer_pool::release(b, static_cast<int>(b->kind >> 8));
        return;
    }
    if (b->kind == bk_user && b->ffn != nullptr) b->ffn(data, b->hint);
    std::free(b);
}

} // namespace

const char* metadata::get(const char* name) const noexcept
{
    for (const auto& [k, v] : m_entries) {
        if (::strcasecmp(k.c_str(), name) == 0) return v.c_str();
    }
    return nullptr;
}

int msg::init_size_slow(std::size_t size) noexcept
{
    // Always out of line (set_properties relies on it for small sizes too).
    init();
    if (size > SIZE_MAX - sizeof(msg_buffer)) {
        m_kind = k_invalid;
        return ENOMEM;
    }
    int cls = -1;
    auto* b = static_cast<msg_buffer*>(buffer_pool::acquire(sizeof(msg_buffer) + size, cls));
    if (b == nullptr) {
        m_kind = k_invalid;
        return ENOMEM;
    }
    new (&b->refs) std::atomic<std::uint32_t>(1);
    b->kind = cls >= 0 ? (bk_pool | (static_cast<std::uint32_t>(cls) << 8)) : bk_heap;
    b->ffn = nullptr;
    b->hint = nullptr;
    m_kind = k_buffer;
    m_body.ext.data = b + 1;
    m_body.ext.size = size;
    m_body.ext.buf = b;
    m_body.ext.reserved = nullptr;
    return 0;
}

msg_buffer* msg::new_chunk(std::size_t size) noexcept
{
    int cls = -1;
    auto* b = static_cast<msg_buffer*>(buffer_pool::acquire(sizeof(msg_buffer) + size, cls));
    if (b == nullptr) return nullptr;
    new (&b->refs) std::atomic<std::uint32_t>(1);
    b->kind = cls >= 0 ? (bk_pool | (static_cast<std::uint32_t>(cls) << 8)) : bk_heap;
    b->ffn = nullptr;
    b->hint = nullptr;
    return b;
}

void msg::release_chunk(msg_buffer* chunk) noexcept
{
    if (chunk != nullptr) release_buffer(chunk, nullptr, true);
}

int msg::init_slice(msg_buffer* chunk, const void* data, std::size_t size) noexcept
{
    init();
    chunk->refs.fetch_add(1, std::memory_order_relaxed);
    m_kind = k_buffer;
    m_flags |= f_shared; // the chunk's count is shared with the reader and other frames
    m_body.ext.data = const_cast<void*>(data);
    m_body.ext.size = size;
    m_body.ext.buf = chunk;
    m_body.ext.reserved = nullptr;
    return 0;
}

int msg::init_data(void* data, std::size_t size, zmq_free_fn* ffn, void* hint) noexcept
{
    init();
    if (data == nullptr && size != 0) {
        m_kind = k_invalid;
        return EINVAL;
    }
    m_body.ext.data = data;
    m_body.ext.size = size;
    m_body.ext.reserved = nullptr;
    if (ffn == nullptr) {
        // Constant data: never freed, shared freely (libzmq reports it shared at once).
        m_kind = k_const;
        m_flags |= f_shared;
        m_body.ext.buf = nullptr;
        return 0;
    }
    auto* b = static_cast<msg_buffer*>(std::malloc(sizeof(msg_buffer)));
    if (b == nullptr) {
        m_kind = k_invalid;
        return ENOMEM;
    }
    new (&b->refs) std::atomic<std::uint32_t>(1);
    b->kind = bk_user;
    b->ffn = ffn;
    b->hint = hint;
    m_kind = k_buffer;
    m_body.ext.buf = b;
    return 0;
}

void msg::init_delimiter() noexcept
{
    init();
    m_kind = k_delimiter;
    m_body.ext.data = nullptr;
    m_body.ext.size = 0;
    m_body.ext.buf = nullptr;
}

void msg::release_body() noexcept
{
    if (m_kind == k_buffer) release_buffer(m_body.ext.buf, m_body.ext.data, (m_flags & f_shared) != 0);
}

void msg::release_extras() noexcept
{
    if ((m_flags & f_metadata) != 0) properties()->release();
    if ((m_flags & f_long_group) != 0) {
        long_group* g = m_group.long_name.ptr;
        if (g->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) std::free(g);
    }
}

int msg::close_slow() noexcept
{
    if (m_kind == k_invalid) return EFAULT;
    release_body();
    release_extras();
    m_kind = k_invalid;
    m_flags = 0;
    return 0;
}

int msg::copy(msg& src) noexcept
{
    if (src.m_kind == k_invalid) return EFAULT;
    if (&src == this) return 0;
    if (m_kind != k_invalid) {
        const int rc = close();
        if (rc != 0) return rc;
    }
    if (src.m_kind == k_buffer) {
        msg_buffer* b = src.m_body.ext.buf;
        if ((src.m_flags & f_shared) != 0) {
            b->refs.fetch_add(1, std::memory_order_relaxed);
        } else {
            // The source is the only owner, so nobody else can touch the count now.
            b->refs.store(2, std::memory_order_relaxed);
            src.m_flags |= f_shared;
        }
    } else if (src.m_kind == k_const) {
        src.m_flags |= f_shared;
    }
    if ((src.m_flags & f_metadata) != 0) src.properties()->add_ref();
    if ((src.m_flags & f_long_group) != 0) src.m_group.long_name.ptr->refs.fetch_add(1, std::memory_order_relaxed);
    std::memcpy(static_cast<void*>(this), &src, sizeof(msg));
    return 0;
}

int msg::set_routing_id(std::uint32_t id) noexcept
{
    if (id == 0) return EINVAL;
    m_routing_id = id;
    return 0;
}

const char* msg::group() const noexcept
{
    if ((m_flags & f_long_group) != 0) return m_group.long_name.ptr->name;
    return m_group.inline_name;
}

int msg::set_group(const char* group, std::size_t len) noexcept
{
    if (group == nullptr || len > group_max) return EINVAL;
    if ((m_flags & f_long_group) != 0) {
        long_group* g = m_group.long_name.ptr;
        if (g->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) std::free(g);
        m_flags &= ~f_long_group;
    }
    if (len <= group_inline_max) {
        std::memcpy(m_group.inline_name, group, len);
        m_group.inline_name[len] = '\0';
        return 0;
    }
    auto* g = static_cast<long_group*>(std::malloc(sizeof(long_group)));
    if (g == nullptr) return ENOMEM;
    new (&g->refs) std::atomic<std::uint32_t>(1);
    std::memcpy(g->name, group, len);
    g->name[len] = '\0';
    m_group.long_name.ptr = g;
    m_flags |= f_long_group;
    return 0;
}

metadata* msg::properties() const noexcept
{
    if ((m_flags & f_metadata) == 0) return nullptr;
    metadata* md;
    std::memcpy(&md, m_body.inline_bytes + inline_capacity_with_metadata, sizeof md);
    return md;
}

void msg::set_properties(metadata* md) noexcept
{
    if (md != nullptr) md->add_ref(); // first: md may be the set this message holds now
    if ((m_flags & f_metadata) != 0) {
        properties()->release();
        m_flags &= ~f_metadata;
    }
    if (md == nullptr) return;
    if (m_kind == k_inline && m_inline_size > inline_capacity_with_metadata) {
        // The pointer's slot holds body bytes: move the body out of line first.
        msg tmp;
        if (tmp.init_size_slow(m_inline_size) != 0) {
            md->release();
            return;
        }
        std::memcpy(tmp.data(), m_body.inline_bytes, m_inline_size);
        tmp.m_flags = m_flags;
        tmp.m_routing_id = m_routing_id;
        std::memcpy(&tmp.m_group, &m_group, sizeof m_group);
        std::memcpy(static_cast<void*>(this), &tmp, sizeof(msg));
    }
    std::memcpy(m_body.inline_bytes + inline_capacity_with_metadata, &md, sizeof md);
    m_flags |= f_metadata;
}

const char* msg::property(const char* name) const noexcept
{
    const metadata* md = properties();
    return md == nullptr ? nullptr : md->get(name);
}

} // namespace zmx::core
