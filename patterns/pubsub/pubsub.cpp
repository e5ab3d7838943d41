// PUB, SUB, XPUB, XSUB (RFC 29 and libzmq's XPUB/XSUB semantics).
//
// Subscriptions travel upstream as messages: "\x01" + prefix subscribes, "\x00" + prefix
// cancels (the tcp/ipc engine turns them into ZMTP 3.1 SUBSCRIBE / CANCEL commands for
// 3.1 peers, and back).
//
// XPUB (and PUB, which is XPUB without the receiving side):
// - keeps a pipe_trie of who subscribed to what; a message goes to every pipe with a
//   prefix of its first frame (or without one, with ZMQ_INVERT_MATCHING), all frames to
//   the same pipes;
// - fan-out copies the handle, not the body: bodies over the inline size are shared by
//   reference count among all subscribers;
// - a subscriber at its HWM loses the message (only it); with ZMQ_XPUB_NODROP the send
//   fails with EAGAIN instead (and blocks, within SNDTIMEO);
// - XPUB hands subscriptions to the application: new prefixes only (a second pipe with a
//   known prefix is not reported), all of them with ZMQ_XPUB_VERBOSE, cancellations too
//   with ZMQ_XPUB_VERBOSER; a subscriber that goes away cancels what only it had.
//   Upstream messages that are not subscriptions (a subscription is one frame) are
//   passed on as they are, every frame.
// - ZMQ_XPUB_WELCOME_MSG is sent to each new subscriber when it attaches.
// - ZMQ_CONFLATE (PUB, XPUB): each subscriber's queue holds one message and the newest
//   beside it (pipe::write_latest); a subscriber that falls behind gets the newest one-
//   frame message when it catches up. Multipart messages go whole or not at all, as
//   without CONFLATE (libzmq keeps one frame of them).
// - ZMQ_XPUB_MANUAL: subscriptions are not applied; every one (and every cancel) goes to
//   the application, which decides: ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE on the XPUB apply to
//   the subscriber whose subscription message it received last. With
//   ZMQ_XPUB_MANUAL_LAST_VALUE the first message sent after receiving a subscription
//   goes to that subscriber only (last-value caching: the new subscriber gets the
//   current value, the others do not get it again). When a subscriber goes away, the
//   application hears a cancel for each prefix it had subscribed that nobody else had.
//
// XSUB (and SUB): fair-queues messages in, keeps its own subscriptions (prefix_trie) and
// delivers only messages that match them (filtering here too keeps inproc and 3.0 peers
// right); subscriptions are sent to every peer and to each new one. SUB takes them from
// ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE, XSUB from messages the application sends.
#include "patterns.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.h>

#include "common/fair_queue.hpp"
#include "common/trie.hpp"
#include "socket_base.hpp"

namespace zmx::patterns {

namespace {

std::string_view view(const core::msg& m) noexcept
{
    return {static_cast<const char*>(m.data()), m.size()};
}

// ---- XPUB / PUB -------------------------------------------------------------------------

class xpub_socket final : public core::socket_base {
public:
    xpub_socket(core::context& ctx, int type, std::uint32_t sid) : socket_base(ctx, type, sid) {}

protected:
    void xattach_pipe(core::pipe& p) noexcept override
    {
        ++m_gen;
        if (p.is_log) {
            // A broadcast log (shm_log.hpp): written for the subscribers that name it,
            // never read, never a subscriber itself.
            try {
                m_logs.push_back(&p);
            } catch (...) {
                p.terminate(false);
            }
            return;
        }
        try {
            m_pipes.push_back(&p);
        } catch (...) {
            p.terminate(false); // cannot keep track of it: refuse the peer
            return;
        }
        m_fq.attach(p);
        // ZMQ_CONFLATE: a subscriber that cannot keep up gets the newest message, not a
        // backlog and not nothing (pipe::write_latest).
        if (m_options.conflate && p.log_id == 0) p.shared().set_conflate(p.side());
        if (p.log_id != 0) {
            for (core::pipe* l : m_logs) {
                if (l->log_id == p.log_id) p.via = l;
            }
        }
        if (!m_options.xpub_welcome_msg.empty()) {
            if (m_more && p.via != nullptr) {
                // Its log is inside a message for everyone: the welcome would land between
                // two of its frames. It goes when the message ends.
                try {
                    m_welcome_later.push_back(&p);
                } catch (...) {
                    // out of memory: no welcome for this one
                }
            } else {
                send_welcome(p);
            }
        }
        read_upstream();
    }

    void send_welcome(core::pipe& p) noexcept
    {
        core::msg w;
        if (w.init_buffer(m_options.xpub_welcome_msg.data(), m_options.xpub_welcome_msg.size()) != 0) return;
        core::pipe* to = target(p, w);
        if (to != nullptr && to->check_write(false) && to->write(w)) {
            to->flush();
        } else {
            (void)w.close();
        }
    }

    void xpipe_terminated(core::pipe& p) noexcept override
    {
        ++m_gen;
        if (p.is_log) {
            std::erase(m_logs, &p);
            std::erase(m_matching, &p);
            for (core::pipe* x : m_pipes) {
                if (x->via == &p) x->via = nullptr;
            }
            return;
        }
        m_fq.terminated(p);
        std::erase(m_pipes, &p);
        std::erase(m_matching, &p);
        std::erase(m_welcome_later, &p);
        if (m_last_pipe == &p) m_last_pipe = nullptr;
        if (m_data_from == &p) m_data_from = nullptr;
        for (upstream_msg& u : m_upstream) {
            if (u.from == &p) u.from = nullptr;
        }
        try {
            if (manual()) {
                // What the application applied for p goes quietly; what p asked for is
                // reported as cancelled where nobody else asked for it.
                try {
                    m_subs.rm_pipe(&p, [](std::string_view) {});
                } catch (...) {
                    // p is out of m_subs all the same; m_requested must lose it too
                }
                m_requested.rm_pipe(&p, [this](std::string_view prefix) { queue_upstream(0, prefix, nullptr); });
                return;
            }
            m_subs.rm_pipe(&p, [this](std::string_view prefix) {
                // Nobody has the prefix any more: an XPUB's application hears it.
                if (type() == ZMQ_XPUB) queue_upstream(0, prefix, nullptr);
            });
        } catch (...) {
            // out of memory: p is out of the tries all the same (rm_pipe), but some of
            // its cancellations were not reported to the XPUB's application
        }
    }

    void xread_activated(core::pipe& p) noexcept override
    {
        if (p.is_log) return;
        m_fq.activated(p);
        read_upstream();
    }

    int xsend(core::msg& m) noexcept override
    {
        // A broadcast log reads a routing id as the one subscriber a message is for
        // (target()); an application's has no meaning here, as in libzmq.
        if (m.routing_id() != 0) [[unlikely]] m.reset_routing_id();
        if (!m_more) {
            // Subscriptions that arrived first count for this message. Upstream traffic is
            // rare: an empty pipe is asked to notify even when the socket spins, so a send
            // does not look at every subscriber's pipe.
            read_upstream(true);
            // A single-frame message for one target that takes everything (a broadcast
            // log serving every subscriber, or the only subscriber): no target list.
            if (!m.more() && !m_options.invert_matching && !manual() && !m_options.conflate && everyone_subscribed() &&
                m_all_targets.size() == 1) {
                return send_to_one(*m_all_targets.front(), m);
            }
            m_conflate_now = m_options.conflate && !m.more();
            if (const int rc = choose(m); rc != 0) return rc;
            if (manual() && m_options.xpub_send_last_pipe && m_last_pipe != nullptr) {
                // LAST_VALUE: this message is for the subscriber just heard from only.
                core::pipe* only = m_last_pipe;
                std::erase_if(m_matching, [only](core::pipe* x) { return x != only; });
                std::erase_if(m_latest, [only](core::pipe* x) { return x != only; });
                m_last_pipe = nullptr;
            }
        }
        const bool more = m.more();
        const bool had_pipes = !m_matching.empty();
        // All but the last pipe get a copy (a reference to the same body); the last the
        // message itself. On the last frame, the pipes that took it are kept at the front
        // of m_matching (the others dropped it).
        std::size_t took = 0;
        const std::uint64_t queued_before = core::t_pipe_writes.queued;
        const std::uint64_t flush_mark = ++m_epoch; // a log written for several subscribers: flushed once
        // CONFLATE: the subscribers whose queue is full (or holds an older latest) get a
        // copy as their latest message (keep_writable chose them).
        if (!more) {
            for (core::pipe* p : m_latest) {
                core::msg c;
                c.init();
                if (c.copy(m) == 0 && !p->write_latest(c)) (void)c.close();
            }
            m_latest.clear();
        }
        for (std::size_t i = 0; i < m_matching.size(); ++i) {
            core::pipe* p = m_matching[i];
            core::msg out;
            out.init();
            if (i + 1 == m_matching.size()) {
                (void)out.move(m);
            } else if (out.copy(m) != 0) {
                continue;
            }
            core::pipe* to = target(*p, out);
            if (to == nullptr || !to->write(out)) {
                (void)out.close();
                continue;
            }
            // On the last frame, what was written to (a log once) is kept for the flush.
            if (!more && to->mark != flush_mark) {
                to->mark = flush_mark;
                m_matching[took++] = to;
            }
        }
        // One fence for every subscriber; none when every copy went straight into a
        // transport (claim_sink::write_through), which published it itself.
        if (core::t_pipe_writes.queued != queued_before) core::pipe::flush_all(m_matching.data(), took);
        if (!had_pipes) (void)m.close();
        m.init();
        m_more = more;
        if (!more) {
            m_matching.clear();
            if (!m_welcome_later.empty()) [[unlikely]] {
                for (core::pipe* p : m_welcome_later) send_welcome(*p);
                m_welcome_later.clear();
            }
        }
        return 0;
    }

    bool xhas_out() noexcept override { return true; }

    int xrecv(core::msg& m) noexcept override
    {
        if (type() != ZMQ_XPUB) return ENOTSUP;
        read_upstream();
        if (m_upstream.empty()) return EAGAIN;
        const upstream_msg& u = m_upstream.front();
        if (m.init_buffer(u.data.data(), u.data.size()) != 0) return ENOMEM;
        m.set_more(u.more);
        // Manual mode: ZMQ_SUBSCRIBE now applies to the subscriber this came from.
        if (manual() && u.from != nullptr) m_last_pipe = u.from;
        m_upstream.pop_front();
        return 0;
    }

    bool xhas_in() noexcept override
    {
        if (type() != ZMQ_XPUB) return false;
        read_upstream();
        return !m_upstream.empty();
    }

    int xsetsockopt(int option, const void* value, std::size_t len) noexcept override
    {
        if (option != ZMQ_SUBSCRIBE && option != ZMQ_UNSUBSCRIBE) return option_not_handled;
        // Manual mode only (EINVAL otherwise). Before any subscription message told whom
        // it is for (or after that subscriber left) it does nothing, as in libzmq.
        if (!manual()) return EINVAL;
        if (m_last_pipe == nullptr) return 0;
        const std::string_view prefix(static_cast<const char*>(value), value == nullptr ? 0 : len);
        if (prefix.size() > max_subscription) return EINVAL;
        if (prefix.empty()) ++m_gen; // who has "" may change
        try {
            if (option == ZMQ_SUBSCRIBE) {
                (void)m_subs.add(prefix, m_last_pipe);
            } else {
                bool removed = false;
                (void)m_subs.rm(prefix, m_last_pipe, removed);
            }
        } catch (...) {
            return ENOMEM;
        }
        return 0;
    }

private:
    // Picks the pipes for the message whose first frame is m. EAGAIN with NODROP when
    // one of them is full.
    int choose(core::msg& m) noexcept
    {
        m_matching.clear();
        // A last value is for one subscriber: not for a log's every reader.
        const bool last_value = manual() && m_options.xpub_send_last_pipe && m_last_pipe != nullptr;
        if (!m_options.invert_matching && !last_value && everyone_subscribed()) {
            // Every subscriber takes everything (the common case of a feed): the pipes
            // are the same for every message, without a walk of the trie.
            try {
                for (core::pipe* p : m_all_targets) m_matching.push_back(p);
            } catch (...) {
                m_matching.clear();
                return ENOMEM;
            }
            return keep_writable();
        }
        ++m_epoch;
        // A subscriber served by a broadcast log is written through it, once for all
        // of them (a log is never in the trie, so its mark is its own): they filter what
        // they read by their own subscriptions. Not in manual mode, where the application
        // decides who gets what: each one is written to alone (target()).
        const bool share_logs = !manual();
        auto take = [this, share_logs](core::pipe* p) {
            core::pipe* to = p->via != nullptr && share_logs ? p->via : p;
            if (to->mark == m_epoch) return;
            to->mark = m_epoch;
            m_matching.push_back(to);
        };
        try {
            if (m_options.invert_matching) {
                m_subs.match(view(m), [this](core::pipe* p) { p->mark = m_epoch; });
                for (core::pipe* p : m_pipes) {
                    if (p->mark != m_epoch) take(p);
                }
            } else {
                m_subs.match(view(m), [&take](core::pipe* p) { take(p); });
            }
        } catch (...) {
            m_matching.clear();
            return ENOMEM;
        }
        return keep_writable();
    }

    // xsend of a single-frame message for one target, as choose(), keep_writable() and
    // the copy loop would treat it.
    int send_to_one(core::pipe& p, core::msg& m) noexcept
    {
        if (m_options.xpub_nodrop) {
            if (!p.check_write(may_sleep())) return EAGAIN;
        } else if (!p.check_write(false)) {
            want_engine_turn(); // as keep_writable(): the full pipe drains at the engines' turn
            (void)m.close();
            m.init();
            return 0;
        }
        const std::uint64_t queued_before = core::t_pipe_writes.queued;
        if (!p.write(m)) {
            (void)m.close();
        } else if (core::t_pipe_writes.queued != queued_before) {
            core::pipe* one = &p;
            core::pipe::flush_all(&one, 1);
        }
        m.init();
        return 0;
    }

    // Where a message for p alone goes: p itself, or the broadcast log that serves p,
    // with p's member id as the message's routing id (its target in the log). nullptr
    // when p has no id (never given one: better lost than sent to every reader).
    static core::pipe* target(core::pipe& p, core::msg& m) noexcept
    {
        if (p.via == nullptr) [[likely]] return &p;
        if (p.log_member == 0 || m.set_routing_id(p.log_member) != 0) return nullptr;
        return p.via;
    }

    // After choose: with NODROP, EAGAIN when a chosen pipe is full; otherwise the full
    // ones are dropped from the message. (A subscriber written to through its log waits
    // for the log.)
    int keep_writable() noexcept
    {
        if (m_conflate_now) {
            // CONFLATE (one-frame messages): never refused, never waited for. A full
            // subscriber, or one with a latest message already waiting, gets this one as
            // its latest instead (in xsend, after choose); NODROP does not apply.
            m_latest.clear();
            bool dropped = false;
            std::erase_if(m_matching, [this, &dropped](core::pipe* p) {
                core::pipe* to = p->via != nullptr ? p->via : p; // on a log: as without CONFLATE
                if (!to->holds_latest() && to->check_write(false)) return false;
                if (to != p || !p->conflates_out() || p->peer_ended()) {
                    dropped = true; // attached before CONFLATE was set, or going: dropped
                    return true;
                }
                try {
                    m_latest.push_back(p);
                } catch (...) {
                    // out of memory: this subscriber loses this message
                }
                return true;
            });
            if (dropped) want_engine_turn(); // as below: a full pipe drains at the engines' turn
            return 0;
        }
        if (m_options.xpub_nodrop) {
            for (core::pipe* p : m_matching) {
                if (!(p->via != nullptr ? p->via : p)->check_write(may_sleep())) {
                    m_matching.clear();
                    return EAGAIN;
                }
            }
            return 0;
        }
        // Drop for the subscribers at their HWM, and only for them.
        const std::size_t chosen = m_matching.size();
        std::erase_if(m_matching, [](core::pipe* p) { return !(p->via != nullptr ? p->via : p)->check_write(false); });
        // A full pipe drains into its transport on the engines' turn: give them one now,
        // as for a queued frame, so that the subscriber loses no more than it must.
        if (m_matching.size() != chosen) want_engine_turn();
        return 0;
    }

    // True when every subscriber has subscribed to "" (and there is one). The answer and
    // the pipes it means (each once, a broadcast log for the subscribers it serves) are
    // kept until a pipe or a subscription changes (m_gen).
    bool everyone_subscribed() noexcept
    {
        if (m_all_gen != m_gen) {
            m_all_gen = m_gen;
            m_all = false;
            m_all_targets.clear();
            try {
                // The trie's list is only compared, never followed: O(n log n).
                const std::vector<core::pipe*>& root = m_subs.all_pipes();
                m_all_targets.assign(root.begin(), root.end());
                std::sort(m_all_targets.begin(), m_all_targets.end());
                bool all = !m_pipes.empty();
                for (core::pipe* p : m_pipes) {
                    all = all && std::binary_search(m_all_targets.begin(), m_all_targets.end(), p);
                }
                m_all_targets.clear();
                if (!all) return false;
                ++m_epoch; // marks, as choose() uses them: each target once
                for (core::pipe* p : m_pipes) {
                    core::pipe* to = p->via != nullptr ? p->via : p;
                    if (to->mark == m_epoch) continue;
                    to->mark = m_epoch;
                    m_all_targets.push_back(to);
                }
            } catch (...) {
                m_all_targets.clear();
                m_all_gen = m_gen - 1; // not known: look again next time
                return false;
            }
            m_all = true;
        }
        return m_all;
    }

    // Takes every message the subscribers sent up (subscriptions and others).
    void read_upstream(bool arm = false) noexcept
    {
        for (;;) {
            core::msg m;
            m.init();
            core::pipe* from = nullptr;
            if (m_fq.recv(m, arm || may_sleep(), [this](core::pipe& p) { pipe_ended(p); }, &from) != 0) return;
            if (m_data_from != nullptr) {
                // The rest of a data message: passed on with it (a PUB drops it).
                m_data_from = m.more() ? from : nullptr;
                if (type() == ZMQ_XPUB) queue_data(m);
                (void)m.close();
                continue;
            }
            const std::string_view v = view(m);
            // RFC 29: a subscription is a single-frame message. A multipart message is
            // data even when its first frame looks like one (libzmq 4.3.4 would apply it).
            if (!m.more() && !v.empty() && (v[0] == 1 || v[0] == 0) && from != nullptr) {
                try {
                    on_subscription(v[0] == 1, v.substr(1), from);
                } catch (...) {
                    // out of memory: this subscription is lost
                }
            } else if (type() == ZMQ_XPUB) {
                // Not a subscription: the application gets it as it came, every frame.
                queue_data(m);
            }
            m_data_from = m.more() ? from : nullptr;
            (void)m.close();
        }
    }

    // A frame of a data message from a subscriber, for the XPUB application (with its
    // MORE flag). Out of memory: the frame is lost and the message ends with the frame
    // before it, so the application still sees whole messages.
    void queue_data(const core::msg& m) noexcept
    {
        try {
            m_upstream.push_back(upstream_msg{std::string(view(m)), nullptr, m.more()});
        } catch (...) {
            if (!m_upstream.empty()) m_upstream.back().more = false;
        }
    }

    void on_subscription(bool subscribe, std::string_view prefix, core::pipe* from)
    {
        if (prefix.size() > max_subscription) return; // see trie.hpp: ignored
        if (prefix.empty()) ++m_gen; // who has "" may change
        if (manual()) {
            // Everything goes to the application, which applies what it wants.
            bool removed = false;
            if (subscribe) {
                (void)m_requested.add(prefix, from);
            } else {
                (void)m_requested.rm(prefix, from, removed);
            }
            queue_upstream(subscribe ? 1 : 0, prefix, from);
            return;
        }
        if (subscribe) {
            const bool unique = m_subs.add(prefix, from);
            if (type() == ZMQ_XPUB && (unique || m_options.xpub_verbose_subs)) queue_upstream(1, prefix, from);
        } else {
            bool removed = false;
            const bool last = m_subs.rm(prefix, from, removed);
            if (type() == ZMQ_XPUB && removed && (last || m_options.xpub_verbose_unsubs)) {
                queue_upstream(0, prefix, from);
            }
        }
    }

    void queue_upstream(char kind, std::string_view prefix, core::pipe* from)
    {
        std::string s(1, kind);
        s.append(prefix);
        m_upstream.push_back(upstream_msg{std::move(s), from, false});
    }

    [[nodiscard]] bool manual() const noexcept { return type() == ZMQ_XPUB && m_options.xpub_manual; }

    // A message for the XPUB application and the subscriber it came from (nullptr: none
    // or gone).
    struct upstream_msg {
        std::string data;
        core::pipe* from;
        bool more; // a frame of a multipart data message, more to come
    };

    std::vector<core::pipe*> m_pipes;
    std::vector<core::pipe*> m_logs;     // broadcast logs (not subscribers)
    std::vector<core::pipe*> m_matching; // pipes of the message being sent
    std::uint64_t m_epoch = 0;
    std::uint64_t m_gen = 1;     // bumped when a pipe or a subscription changes
    std::uint64_t m_all_gen = 0; // m_gen when m_all and m_all_targets were worked out
    bool m_all = false;          // every subscriber has subscribed to ""
    std::vector<core::pipe*> m_all_targets; // then: the pipes every message goes to
    pipe_trie m_subs;
    fair_queue m_fq;
    std::deque<upstream_msg> m_upstream; // for the XPUB application
    pipe_trie m_requested;                // manual mode: what each subscriber asked for
    core::pipe* m_last_pipe = nullptr;    // manual mode: whom ZMQ_SUBSCRIBE applies to
    bool m_more = false;                // inside a multipart message
    bool m_conflate_now = false;        // this message conflates (CONFLATE, one frame)
    std::vector<core::pipe*> m_latest;  // its subscribers that get it as their latest
    std::vector<core::pipe*> m_welcome_later; // attached mid-message, on a log (xattach_pipe)
    core::pipe* m_data_from = nullptr;  // inside a multipart data message from this subscriber
};

// ---- XSUB / SUB -------------------------------------------------------------------------

class xsub_socket final : public core::socket_base {
public:
    xsub_socket(core::context& ctx, int type, std::uint32_t sid) : socket_base(ctx, type, sid) { m_ahead.init(); }
    ~xsub_socket() override
    {
        if (m_have_ahead) (void)m_ahead.close();
    }

protected:
    void xattach_pipe(core::pipe& p) noexcept override
    {
        try {
            m_pipes.push_back(&p);
        } catch (...) {
            p.terminate(false);
            return;
        }
        m_fq.attach(p);
        // A new peer learns every subscription.
        try {
            m_subs.each([&](std::string_view prefix) { (void)send_to(p, 1, prefix); });
        } catch (...) {
        }
        p.flush();
    }

    void xpipe_terminated(core::pipe& p) noexcept override
    {
        m_fq.terminated(p);
        std::erase(m_pipes, &p);
    }

    void xread_activated(core::pipe& p) noexcept override { m_fq.activated(p); }

    int xsetsockopt(int option, const void* value, std::size_t len) noexcept override
    {
        if (option != ZMQ_SUBSCRIBE && option != ZMQ_UNSUBSCRIBE) return option_not_handled;
        if (type() != ZMQ_SUB) return EINVAL;
        if (value == nullptr && len != 0) return EINVAL;
        const std::string_view prefix(static_cast<const char*>(value), value == nullptr ? 0 : len);
        if (prefix.size() > max_subscription) return EINVAL;
        try {
            if (option == ZMQ_SUBSCRIBE) {
                // Every subscribe goes upstream (an XPUB in verbose mode sees duplicates,
                // as with libzmq); a cancel only when the last one goes.
                (void)m_subs.add(prefix);
                send_all(1, prefix);
            } else if (m_subs.rm(prefix)) {
                send_all(0, prefix);
            }
        } catch (...) {
            return ENOMEM;
        }
        return 0;
    }

    int xsend(core::msg& m) noexcept override
    {
        if (type() != ZMQ_XSUB) return ENOTSUP;
        const std::string_view v = view(m);
        const bool first = !m_send_more;
        m_send_more = m.more();
        try {
            if (first && !m.more() && !v.empty() && (v[0] == 1 || v[0] == 0)) {
                if (v.size() - 1 > max_subscription) return EINVAL;
                // Subscriptions are forwarded (every subscribe, so an XPUB upstream in
                // verbose mode sees duplicates; a cancel only when the last one goes).
                if (v[0] == 1) {
                    (void)m_subs.add(v.substr(1));
                } else if (!m_subs.rm(v.substr(1))) {
                    (void)m.close();
                    m.init();
                    return 0;
                }
            }
        } catch (...) {
            return ENOMEM;
        }
        // To every peer (a copy each; the body is shared).
        for (core::pipe* p : m_pipes) {
            core::msg out;
            out.init();
            if (out.copy(m) != 0) continue;
            if (!p->write(out)) {
                (void)out.close();
                continue;
            }
            if (!m_send_more) p->flush();
        }
        (void)m.close();
        m.init();
        return 0;
    }

    bool xhas_out() noexcept override { return type() == ZMQ_XSUB; }

    int xrecv(core::msg& m) noexcept override
    {
        if (m_have_ahead) {
            (void)m.move(m_ahead);
            m_ahead.init();
            m_have_ahead = false;
            m_recv_more = m.more();
            return 0;
        }
        return next_matching(m);
    }

    bool xhas_in() noexcept override
    {
        if (m_have_ahead || m_recv_more) return true;
        if (next_matching(m_ahead) != 0) return false;
        m_have_ahead = true;
        m_recv_more = false; // xrecv sets it when it hands m_ahead out
        return true;
    }

private:
    // The next frame the application may have: the rest of a message it is reading, or
    // the first frame of the next matching message (others are dropped whole).
    int next_matching(core::msg& m) noexcept
    {
        auto ended = [this](core::pipe& p) { pipe_ended(p); };
        for (;;) {
            const int rc = m_fq.recv(m, may_sleep(), ended);
            if (rc != 0) return rc;
            if (m_recv_more) {
                m_recv_more = m.more();
                return 0;
            }
            if (m_dropping) {
                m_dropping = m.more();
                (void)m.close();
                continue;
            }
            bool hit = m_subs.matches_all();
            try {
                if (!hit) hit = m_subs.matches(view(m));
            } catch (...) {
                hit = false;
            }
            if (hit != m_options.invert_matching) {
                m_recv_more = m.more();
                return 0;
            }
            m_dropping = m.more();
            (void)m.close();
        }
    }

    void send_all(char kind, std::string_view prefix)
    {
        for (core::pipe* p : m_pipes) {
            if (send_to(*p, kind, prefix)) p->flush();
        }
    }

    static bool send_to(core::pipe& p, char kind, std::string_view prefix) noexcept
    {
        core::msg m;
        if (m.init_size(prefix.size() + 1) != 0) return false;
        auto* d = static_cast<char*>(m.data());
        d[0] = kind;
        if (!prefix.empty()) std::memcpy(d + 1, prefix.data(), prefix.size());
        // Subscriptions are never dropped for the HWM: they are control traffic.
        if (!p.write(m)) {
            (void)m.close();
            return false;
        }
        return true;
    }

    std::vector<core::pipe*> m_pipes;
    fair_queue m_fq;
    prefix_trie m_subs;
    core::msg m_ahead{};     // a frame read by xhas_in, handed out by the next xrecv
    bool m_have_ahead = false;
    bool m_recv_more = false; // the application is inside a message
    bool m_dropping = false;  // dropping the rest of a message that did not match
    bool m_send_more = false; // XSUB: inside a multipart message the application sends
};

} // namespace

core::socket_base* create_pub(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) xpub_socket(ctx, type, sid);
}

core::socket_base* create_sub(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) xsub_socket(ctx, type, sid);
}

} // namespace zmx::patterns
