// zmx::core::msg — the 64-byte message handle behind zmq_msg_t.
//
// Layout (fixed: it is the ABI of zmq_msg_t and moves through rings by memcpy):
//   [0, 40)  body: inline bytes, or {data, size, buffer*, metadata*} for out-of-line bodies
//   [40, 56) group: up to 15 chars inline + length byte, or a pointer to a long group
//   [56, 60) routing id
//   [60]     kind, [61] flags, [62] inline size, [63] reserved
//
// Ownership: a msg owns at most one reference to its buffer. A buffer's reference count
// is only meaningful while the SHARED flag is set; an unshared msg is the single owner
// and frees without touching an atomic. The first copy sets SHARED on both and stores 2.
//
// msg is trivially copyable on purpose: rings move it with memcpy. After such a raw move
// the source must be re-initialised (init()) or forgotten, never closed.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <zmq.h>

namespace zmx::core {

class metadata; // refcounted property set (ZMTP READY properties); see metadata.hpp

struct msg_buffer {
    std::atomic<std::uint32_t> refs; // valid only while owners have the SHARED flag
    std::uint32_t kind;              // buffer_kind
    zmq_free_fn* ffn;                // user buffers: called with (data, hint) on last release
    void* hint;
};

class msg {
public:
    static constexpr std::size_t inline_capacity = 40;
    static constexpr std::size_t inline_capacity_with_metadata = 32;
    static constexpr std::size_t group_inline_max = 15;
    static constexpr std::size_t group_max = 255; // ZMQ_GROUP_MAX_LENGTH

    enum kind : std::uint8_t {
        k_invalid = 0, // closed or never initialised: every accessor but init* fails
        k_inline = 1,  // body in m_body.inline_bytes
        k_buffer = 2,  // body in a msg_buffer (heap or user memory)
        k_const = 3,   // body is caller memory that is never freed (zmq_msg_init_data, ffn NULL)
        k_delimiter = 4, // end-of-pipe marker, never visible to users
        k_join = 5,    // DISH join / leave commands (group carries the name)
        k_leave = 6,
    };
    enum flag : std::uint8_t {
        f_more = 1,
        f_command = 2,
        f_shared = 4,
        f_long_group = 8,
        f_metadata = 16,
        f_routing_id = 32,
    };

    // ---- construction (return 0 or an errno value; never throw) ----
    void init() noexcept // empty message
    {
        m_kind = k_inline;
        m_flags = 0;
        m_inline_size = 0;
        m_reserved = 0;
        m_routing_id = 0;
        m_group.inline_name[0] = '\0';
    }
    [[nodiscard]] int init_size(std::size_t size) noexcept
    {
        if (size <= inline_capacity) [[likely]] {
            init();
            m_inline_size = static_cast<std::uint8_t>(size);
            return 0;
        }
        return init_size_slow(size);
    }
    [[nodiscard]] int init_data(void* data, std::size_t size, zmq_free_fn* ffn, void* hint) noexcept;
    // A frame whose body lies inside `chunk` (a read buffer of the tcp/ipc engine): it
    // takes a reference on the chunk instead of copying. `data` must be chunk memory.
    [[nodiscard]] int init_slice(msg_buffer* chunk, const void* data, std::size_t size) noexcept;
    // Read chunks: refcounted memory that several frames may refer into. The creator
    // holds one reference (release_chunk gives it up; the last reference frees it).
    [[nodiscard]] static msg_buffer* new_chunk(std::size_t size) noexcept;
    static void release_chunk(msg_buffer* chunk) noexcept;
    [[nodiscard]] static std::uint8_t* chunk_data(msg_buffer* chunk) noexcept
    {
        return reinterpret_cast<std::uint8_t*>(chunk + 1);
    }
    // True when no frame refers into the chunk any more (only its creator holds it), so
    // its memory may be read into again.
    [[nodiscard]] static bool chunk_unshared(const msg_buffer* chunk) noexcept
    {
        return chunk->refs.load(std::memory_order_acquire) == 1;
    }
    [[nodiscard]] int init_buffer(const void* data, std::size_t size) noexcept // copies
    {
        if (size <= inline_capacity) [[likely]] {
            init();
            m_inline_size = static_cast<std::uint8_t>(size);
            copy_small(m_body.inline_bytes, data, size);
            return 0;
        }
        const int rc = init_size_slow(size);
        if (rc != 0) return rc;
        std::memcpy(this->data(), data, size);
        return 0;
    }
    void init_delimiter() noexcept;
    // DISH -> RADIO control messages (no body): join or leave the group set on them
    // afterwards (set_group). They travel through pipes only, never to the application.
    void init_join() noexcept { init_control(k_join); }
    void init_leave() noexcept { init_control(k_leave); }
    [[nodiscard]] bool is_join() const noexcept { return m_kind == k_join; }
    [[nodiscard]] bool is_leave() const noexcept { return m_kind == k_leave; }

    // Releases the body. Returns EFAULT when the message is not initialised.
    [[nodiscard]] int close() noexcept
    {
        // Inline bodies without extras own nothing: the common small-message case.
        if (m_kind == k_inline && (m_flags & (f_metadata | f_long_group)) == 0) [[likely]] {
            m_kind = k_invalid;
            m_flags = 0;
            return 0;
        }
        return close_slow();
    }
    // this := copy of src (shares the body). this must be initialised; it is closed first.
    [[nodiscard]] int copy(msg& src) noexcept;
    // this := src; src becomes an empty message.
    [[nodiscard]] int move(msg& src) noexcept
    {
        if (src.m_kind == k_invalid) return EFAULT;
        if (&src == this) return 0;
        if (m_kind != k_invalid) {
            const int rc = close();
            if (rc != 0) return rc;
        }
        std::memcpy(static_cast<void*>(this), &src, sizeof(msg));
        src.init();
        return 0;
    }

    [[nodiscard]] bool valid() const noexcept { return m_kind != k_invalid; }
    [[nodiscard]] std::uint8_t type() const noexcept { return m_kind; }
    [[nodiscard]] bool is_delimiter() const noexcept { return m_kind == k_delimiter; }

    [[nodiscard]] void* data() noexcept
    {
        return m_kind == k_inline ? static_cast<void*>(m_body.inline_bytes) : m_body.ext.data;
    }
    [[nodiscard]] const void* data() const noexcept
    {
        return m_kind == k_inline ? static_cast<const void*>(m_body.inline_bytes) : m_body.ext.data;
    }
    [[nodiscard]] std::size_t size() const noexcept
    {
        return m_kind == k_inline ? m_inline_size : (m_kind == k_invalid ? 0 : m_body.ext.size);
    }

    [[nodiscard]] std::uint8_t flags() const noexcept { return m_flags; }
    [[nodiscard]] bool more() const noexcept { return (m_flags & f_more) != 0; }
    void set_more(bool on) noexcept { m_flags = on ? (m_flags | f_more) : (m_flags & ~f_more); }
    [[nodiscard]] bool shared() const noexcept { return (m_flags & f_shared) != 0; }

    // Routing id: 0 means none (zmq_msg_set_routing_id refuses 0).
    [[nodiscard]] std::uint32_t routing_id() const noexcept { return m_routing_id; }
    [[nodiscard]] int set_routing_id(std::uint32_t id) noexcept;
    void reset_routing_id() noexcept { m_routing_id = 0; }

    [[nodiscard]] const char* group() const noexcept;
    [[nodiscard]] int set_group(const char* group, std::size_t len) noexcept;

    // Properties (ZMTP metadata). nullptr when the message has none.
    [[nodiscard]] metadata* properties() const noexcept;
    void set_properties(metadata* md) noexcept; // takes a new reference
    // Property lookup for zmq_msg_gets: nullptr if absent.
    [[nodiscard]] const char* property(const char* name) const noexcept;

private:
    // Copies n <= inline_capacity bytes without a call to memcpy: a receive path copies
    // one small frame per message, and the call is a fifth of that copy's cost. Fixed-size
    // copies that overlap cover every n (reading only [src, src + n)).
    static void copy_small(void* dst, const void* src, std::size_t n) noexcept
    {
        auto* d = static_cast<unsigned char*>(dst);
        const auto* s = static_cast<const unsigned char*>(src);
        if (n >= 16) {
            std::memcpy(d, s, 16);
            if (n > 32) std::memcpy(d + 16, s + 16, 16);
            std::memcpy(d + n - 16, s + n - 16, 16);
        } else if (n >= 8) {
            std::memcpy(d, s, 8);
            std::memcpy(d + n - 8, s + n - 8, 8);
        } else if (n >= 4) {
            std::memcpy(d, s, 4);
            std::memcpy(d + n - 4, s + n - 4, 4);
        } else if (n != 0) {
            d[0] = s[0];
            d[n / 2] = s[n / 2];
            d[n - 1] = s[n - 1];
        }
    }
    void init_control(kind k) noexcept
    {
        init();
        m_kind = k;
        m_body.ext.data = nullptr;
        m_body.ext.size = 0;
        m_body.ext.buf = nullptr;
    }
    int init_size_slow(std::size_t size) noexcept;
    int close_slow() noexcept;
    void release_body() noexcept;
    void release_extras() noexcept;

    union body {
        unsigned char inline_bytes[inline_capacity];
        struct ext_t {
            void* data;
            std::size_t size;
            msg_buffer* buf; // null for k_const
            void* reserved;
            metadata* md; // offset 32: the same place inline bodies keep it (f_metadata)
        } ext;
    } m_body;
    union group_t {
        char inline_name[group_inline_max + 1]; // NUL-terminated
        struct long_t {
            struct long_group* ptr;
        } long_name;
    } m_group;
    std::uint32_t m_routing_id;
    std::uint8_t m_kind;
    std::uint8_t m_flags;
    std::uint8_t m_inline_size;
    std::uint8_t m_reserved;

    friend struct msg_layout_check;
};

struct msg_layout_check {
    static_assert(sizeof(msg) == 64, "zmx::core::msg must be exactly 64 bytes");
    static_assert(sizeof(msg) == sizeof(zmq_msg_t), "msg must match zmq_msg_t");
    static_assert(alignof(msg) <= alignof(zmq_msg_t), "msg must fit zmq_msg_t's alignment");
    static_assert(offsetof(msg, m_group) == 40);
    static_assert(offsetof(msg, m_routing_id) == 56);
    static_assert(offsetof(msg, m_kind) == 60);
    static_assert(std::is_trivially_copyable_v<msg>);
};

inline msg* as_msg(zmq_msg_t* m) noexcept { return reinterpret_cast<msg*>(m); }

} // namespace zmx::core
