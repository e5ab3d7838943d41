// SURVEYOR and RESPONDENT: the survey pattern (a zmx extension; no RFC, no libzmq type).
//
// Wire: every survey and every reply is a multipart message whose first frame is the
// 4-byte big-endian survey id (with MORE), followed by the application's frames (one or
// more). ZMTP Socket-Type names "SURVEYOR" and "RESPONDENT", compatible only with each
// other.
//
// - SURVEYOR: a send starts a new survey (id: a per-socket counter from a random start;
//   any earlier survey ends and its late replies are dropped) and writes it to every
//   respondent that has room for it (one at its HWM misses this survey; the send never
//   blocks; all frames of a survey go to the same respondents; bodies are shared as PUB
//   shares them). Replies already queued then answer old surveys: they are dropped at
//   once, so that they hold no room the new survey's replies need. recv fair-queues the replies, strips the id frame and drops every reply
//   (all its frames) whose id is not the current survey's or that is malformed (first
//   frame not 4 bytes, or nothing after it). recv before any survey: EFSM. Once
//   ZMX_SURVEY_TIMEOUT ms have passed since the survey's last frame, recv answers
//   ETIMEDOUT once (queued replies are no longer delivered) and the survey is over: EFSM
//   until the next send. A blocking recv waits at most until the deadline; POLLIN is
//   set when a reply is there and also once the deadline has passed (recv will not
//   block: it answers ETIMEDOUT).
// - RESPONDENT: recv fair-queues surveys, strips and remembers the id and the pipe it
//   came from, delivers the application's frames; malformed surveys are dropped. send
//   is allowed once a whole survey was received (else EFSM); the reply goes to that
//   surveyor only, prefixed with the id. If that surveyor is gone, or its pipe is at its
//   HWM, the reply is dropped (send succeeds). A recv that delivers a new survey abandons
//   the one held (allowed; a recv that finds nothing keeps it); a recv in the middle of a
//   multipart reply is EFSM. After the reply's last frame a new survey is needed before
//   the next send.
// - ZMQ_CONFLATE is refused on both (EINVAL): it would take messages apart.
#include "patterns.hpp"

#include <sys/random.h>

#include <chrono>
#include <cstring>
#include <vector>

#include <zmq.h>

#include "common/fair_queue.hpp"
#include "socket_base.hpp"

namespace zmx::patterns {

namespace {

constexpr std::size_t id_size = 4;

std::uint32_t get_id(const core::msg& m) noexcept
{
    const auto* d = static_cast<const unsigned char*>(m.data());
    return (std::uint32_t{d[0]} << 24) | (std::uint32_t{d[1]} << 16) | (std::uint32_t{d[2]} << 8) | d[3];
}

int make_id_frame(core::msg& m, std::uint32_t id) noexcept
{
    if (const int rc = m.init_size(id_size); rc != 0) return rc;
    auto* d = static_cast<unsigned char*>(m.data());
    d[0] = static_cast<unsigned char>(id >> 24);
    d[1] = static_cast<unsigned char>(id >> 16);
    d[2] = static_cast<unsigned char>(id >> 8);
    d[3] = static_cast<unsigned char>(id);
    m.set_more(true);
    return 0;
}

std::int64_t steady_ns() noexcept
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// ZMQ_CONFLATE would take messages apart (it keeps single frames) and swallow the
// SURVEYOR's ETIMEDOUT: refused on both survey types (turning it off is accepted).
int check_conflate(int option, const void* value, std::size_t len) noexcept
{
    if (option != ZMQ_CONFLATE) return core::socket_base::option_not_handled;
    int on = 0;
    if (value == nullptr || len != sizeof on) return EINVAL;
    std::memcpy(&on, value, sizeof on);
    return on == 0 ? core::socket_base::option_not_handled : EINVAL;
}

std::uint32_t random_start() noexcept
{
    std::uint32_t v = 0;
    if (::getrandom(&v, sizeof v, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof v)) return v;
    // No entropy yet (early boot): the clock still differs between sockets and runs.
    const auto t = static_cast<std::uint64_t>(steady_ns());
    return static_cast<std::uint32_t>(t ^ (t >> 32));
}

// Reads whole messages [id (4 bytes, MORE), frame, ...] from a fair queue: hands out the
// first frame after the id (with the id and the pipe it came from), then the rest of the
// message frame by frame. Malformed messages, and those `accept(id)` refuses, are dropped
// whole. One message can be read ahead (for POLLIN). Owner: the socket's thread.
class survey_reader {
public:
    survey_reader() noexcept { m_ahead.init(); }
    ~survey_reader()
    {
        if (m_have_ahead) (void)m_ahead.close();
    }
    survey_reader(const survey_reader&) = delete;
    survey_reader& operator=(const survey_reader&) = delete;

    void attach(core::pipe& p) noexcept { m_fq.attach(p); }
    void activated(core::pipe& p) noexcept { m_fq.activated(p); }
    void terminated(core::pipe& p) noexcept
    {
        m_fq.terminated(p);
        if (m_from == &p) {
            // Its message cannot be finished (the peer discarded its queue): the next
            // read starts a new message.
            m_from = nullptr;
            m_more = false;
            m_dropping = false;
        }
        if (m_have_ahead && m_ahead_from == &p) {
            (void)m_ahead.close();
            m_ahead.init();
            m_have_ahead = false;
        }
    }

    // Inside a message handed out in part.
    [[nodiscard]] bool in_message() const noexcept { return m_more; }

    // The next frame: the rest of the current message, or the first application frame of
    // the next accepted message (id and from set). 0 or EAGAIN.
    template <typename Ended, typename Accept>
    int next(core::msg& m, bool may_sleep, Ended&& ended, Accept&& accept, std::uint32_t* id = nullptr,
             core::pipe** from = nullptr) noexcept
    {
        if (m_have_ahead) {
            m_have_ahead = false;
            if (accept(m_ahead_id)) {
                (void)m.move(m_ahead);
                m_ahead.init();
                m_more = m.more();
                m_from = m_more ? m_ahead_from : nullptr;
                if (id != nullptr) *id = m_ahead_id;
                if (from != nullptr) *from = m_ahead_from;
                return 0;
            }
            // Refused since it was read ahead (a new survey began): drop it whole.
            m_dropping = m_ahead.more();
            m_from = m_dropping ? m_ahead_from : nullptr;
            (void)m_ahead.close();
            m_ahead.init();
        }
        if (m_more) {
            core::pipe* p = nullptr;
            const int rc = m_fq.recv(m, may_sleep, ended, &p);
            if (rc != 0) return rc; // cannot happen: a message is published whole
            m_more = m.more();
            if (!m_more) m_from = nullptr;
            return 0;
        }
        for (;;) {
            core::pipe* p = nullptr;
            const int rc = m_fq.recv(m, may_sleep, ended, &p);
            if (rc != 0) return rc;
            if (m_dropping) {
                m_dropping = m.more();
                if (!m_dropping) m_from = nullptr;
                (void)m.close();
                m.init();
                continue;
            }
            // First frame: the id, with at least one frame after it.
            const bool well_formed = m.size() == id_size && m.more();
            const std::uint32_t got = well_formed ? get_id(m) : 0;
            const bool more = m.more();
            (void)m.close();
            m.init();
            if (!well_formed || !accept(got)) {
                m_dropping = more;
                m_from = more ? p : nullptr;
                continue;
            }
            core::pipe* body_from = nullptr;
            if (m_fq.recv(m, false, ended, &body_from) != 0) return EAGAIN; // published whole: not reached
            if (body_from != p) {
                // Not the same message (cannot happen with whole messages): drop it.
                m_dropping = m.more();
                m_from = m_dropping ? body_from : nullptr;
                (void)m.close();
                m.init();
                continue;
            }
            m_more = m.more();
            m_from = m_more ? p : nullptr;
            if (id != nullptr) *id = got;
            if (from != nullptr) *from = p;
            return 0;
        }
    }

    // Whether next() would hand out a frame now (reads one accepted message ahead).
    template <typename Ended, typename Accept>
    bool has_in(bool may_sleep, Ended&& ended, Accept&& accept) noexcept
    {
        if (m_more || m_have_ahead) return true;
        core::msg m;
        m.init();
        std::uint32_t id = 0;
        core::pipe* from = nullptr;
        if (next(m, may_sleep, ended, accept, &id, &from) != 0) return false;
        // next() set m_more/m_from for a message in progress: that state now belongs to
        // the frame read ahead, which next() hands out first.
        (void)m_ahead.move(m);
        m_ahead_id = id;
        m_ahead_from = from;
        m_have_ahead = true;
        m_more = false;
        return true;
    }

    // The application leaves the message it is reading (and any read ahead): the rest is
    // dropped as it is read.
    void abandon() noexcept
    {
        if (m_have_ahead) {
            m_dropping = m_ahead.more();
            m_from = m_dropping ? m_ahead_from : nullptr;
            (void)m_ahead.close();
            m_ahead.init();
            m_have_ahead = false;
        } else if (m_more) {
            m_dropping = true;
            m_more = false;
        }
    }

private:
    fair_queue m_fq;
    core::msg m_ahead{};             // first frame of a message read ahead by has_in
    std::uint32_t m_ahead_id = 0;
    core::pipe* m_ahead_from = nullptr;
    core::pipe* m_from = nullptr;    // pipe of the message being handed out or dropped
    bool m_have_ahead = false;
    bool m_more = false;             // the application is inside a message
    bool m_dropping = false;         // dropping the rest of a message
};

// ---- SURVEYOR ---------------------------------------------------------------------------

class surveyor_socket final : public core::socket_base {
public:
    surveyor_socket(core::context& ctx, int type, std::uint32_t sid)
        : socket_base(ctx, type, sid), m_next_id(random_start())
    {
    }

private:
    auto ended_fn() noexcept
    {
        return [this](core::pipe& p) { pipe_ended(p); };
    }
    auto accept_fn() const noexcept
    {
        return [this](std::uint32_t id) { return m_active && id == m_id; };
    }

protected:
    void xattach_pipe(core::pipe& p) noexcept override
    {
        try {
            m_pipes.push_back(&p);
        } catch (...) {
            p.terminate(false); // cannot keep track of it: refuse the peer
            return;
        }
        m_reader.attach(p);
    }

    void xpipe_terminated(core::pipe& p) noexcept override
    {
        m_reader.terminated(p);
        std::erase(m_pipes, &p);
        std::erase(m_targets, &p);
    }

    void xread_activated(core::pipe& p) noexcept override { m_reader.activated(p); }

    int xsend(core::msg& m) noexcept override
    {
        if (!m_sending) {
            if (const int rc = start_survey(); rc != 0) return rc;
        }
        const bool more = m.more();
        // All but the last target get a copy (a reference to the same body).
        for (std::size_t i = 0; i < m_targets.size();) {
            core::pipe* p = m_targets[i];
            core::msg out;
            out.init();
            const bool last = i + 1 == m_targets.size();
            if (last) {
                (void)out.move(m);
            } else if (out.copy(m) != 0) {
                drop_target(i);
                continue;
            }
            if (!p->write(out)) {
                (void)out.close();
                if (last) m.init(); // m was moved into out
                drop_target(i);
                continue;
            }
            if (!more) p->flush();
            ++i;
        }
        if (m.valid()) (void)m.close();
        m.init();
        m_sending = more;
        if (!more) {
            m_targets.clear();
            m_deadline = m_options.survey_timeout < 0
                             ? no_deadline
                             : steady_ns() + std::int64_t{m_options.survey_timeout} * 1'000'000;
            m_active = true;
        }
        return 0;
    }

    bool xhas_out() noexcept override { return true; }

    int xsetsockopt(int option, const void* value, std::size_t len) noexcept override
    {
        return check_conflate(option, value, len);
    }

    int xrecv(core::msg& m) noexcept override
    {
        if (m_sending) return EFSM; // a survey is half sent
        if (m_reader.in_message()) return next(m); // the rest of a reply, deadline or not
        if (!m_active) return EFSM;
        if (expired()) {
            m_active = false;
            m_deadline = no_deadline;
            m_reader.abandon();
            return ETIMEDOUT;
        }
        return next(m);
    }

    bool xhas_in() noexcept override
    {
        if (m_sending) return false;
        if (m_reader.in_message()) return true;
        if (!m_active) return false;
        if (expired()) return true; // recv answers ETIMEDOUT at once
        return m_reader.has_in(may_sleep(), ended_fn(), accept_fn());
    }

    std::int64_t xrecv_deadline() noexcept override
    {
        return m_active && !m_sending ? m_deadline : no_deadline;
    }

private:
    int next(core::msg& m) noexcept { return m_reader.next(m, may_sleep(), ended_fn(), accept_fn()); }

    [[nodiscard]] bool expired() const noexcept { return m_deadline != no_deadline && steady_ns() >= m_deadline; }

    // A new survey: the old one ends; its id frame goes to every respondent with room.
    int start_survey() noexcept
    {
        // Replies queued so far answer old surveys: dropped now, so that they do not
        // hold room the new survey's replies need.
        m_reader.abandon();
        m_active = false;
        {
            core::msg m;
            m.init();
            if (m_reader.next(m, false, ended_fn(), [](std::uint32_t) { return false; }) == 0) (void)m.close();
        }
        m_deadline = no_deadline;
        m_id = m_next_id++;
        m_targets.clear();
        try {
            m_targets.reserve(m_pipes.size());
        } catch (...) {
            return ENOMEM;
        }
        for (core::pipe* p : m_pipes) {
            if (!p->check_write(false)) continue; // at its HWM: misses this survey
            core::msg id;
            if (make_id_frame(id, m_id) != 0) continue;
            if (!p->write(id)) {
                (void)id.close();
                continue;
            }
            m_targets.push_back(p);
        }
        m_sending = true;
        return 0;
    }

    // Target i cannot take the rest of the survey: what it got is taken back.
    void drop_target(std::size_t i) noexcept
    {
        m_targets[i]->rollback();
        m_targets.erase(m_targets.begin() + static_cast<std::ptrdiff_t>(i));
    }

    std::vector<core::pipe*> m_pipes;   // every respondent
    std::vector<core::pipe*> m_targets; // the respondents of the survey being sent
    survey_reader m_reader;
    std::int64_t m_deadline = no_deadline;
    std::uint32_t m_next_id;
    std::uint32_t m_id = 0;
    bool m_sending = false; // inside a multipart survey
    bool m_active = false;  // a survey was sent; its replies are collected
};

// ---- RESPONDENT -------------------------------------------------------------------------

class respondent_socket final : public core::socket_base {
public:
    using socket_base::socket_base;

private:
    static bool accept_all(std::uint32_t) noexcept { return true; }
    auto ended_fn() noexcept
    {
        return [this](core::pipe& p) { pipe_ended(p); };
    }

protected:
    void xattach_pipe(core::pipe& p) noexcept override { m_reader.attach(p); }

    void xpipe_terminated(core::pipe& p) noexcept override
    {
        m_reader.terminated(p);
        if (m_reply_pipe == &p) m_reply_pipe = nullptr; // the reply will be dropped
    }

    void xread_activated(core::pipe& p) noexcept override { m_reader.activated(p); }

    int xrecv(core::msg& m) noexcept override
    {
        if (m_in_reply) return EFSM; // finish the reply first
        const bool continuing = m_reader.in_message();
        std::uint32_t id = 0;
        core::pipe* from = nullptr;
        const int rc = m_reader.next(m, may_sleep(), ended_fn(), accept_all, &id, &from);
        if (rc != 0) return rc; // nothing new: the survey held (if any) stays answerable
        if (!continuing) {
            // A new survey: one not replied to is abandoned.
            m_id = id;
            m_reply_pipe = from;
        }
        m_can_reply = !m.more();
        return 0;
    }

    bool xhas_in() noexcept override
    {
        return !m_in_reply && m_reader.has_in(may_sleep(), ended_fn(), accept_all);
    }

    int xsend(core::msg& m) noexcept override
    {
        if (!m_can_reply) return EFSM;
        const bool more = m.more();
        if (!m_in_reply) {
            // The id frame first, on the surveyor's pipe; gone or full: the reply is dropped.
            m_dropping = true;
            if (m_reply_pipe != nullptr && m_reply_pipe->check_write(false)) {
                core::msg id;
                if (const int rc = make_id_frame(id, m_id); rc != 0) return rc;
                if (m_reply_pipe->write(id)) {
                    m_dropping = false;
                } else {
                    (void)id.close();
                }
            }
            m_in_reply = true;
        }
        if (!m_dropping && m_reply_pipe != nullptr) {
            if (m_reply_pipe->write(m)) {
                if (!more) m_reply_pipe->flush();
            } else {
                m_reply_pipe->rollback();
                m_dropping = true;
            }
        }
        if (m.valid()) (void)m.close();
        m.init();
        if (!more) {
            m_in_reply = false;
            m_can_reply = false;
            m_dropping = false;
            m_reply_pipe = nullptr;
        }
        return 0;
    }

    bool xhas_out() noexcept override { return m_can_reply; }

    int xsetsockopt(int option, const void* value, std::size_t len) noexcept override
    {
        return check_conflate(option, value, len);
    }

private:
    survey_reader m_reader;
    core::pipe* m_reply_pipe = nullptr; // the surveyor of the survey received (nullptr: gone)
    std::uint32_t m_id = 0;             // that survey's id
    bool m_can_reply = false;           // a whole survey was received and not replied to
    bool m_in_reply = false;            // inside a multipart reply
    bool m_dropping = false;            // the reply being sent is dropped
};

} // namespace

core::socket_base* create_surveyor(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) surveyor_socket(ctx, type, sid);
}

core::socket_base* create_respondent(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) respondent_socket(ctx, type, sid);
}

} // namespace zmx::patterns
