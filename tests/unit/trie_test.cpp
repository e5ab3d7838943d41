// Unit tests: pipe_trie (the PUB side's subscriptions, patterns/common/trie.hpp).
//
// rm_pipe (a subscriber leaves) must take the pipe out of every prefix even when it
// throws half-way (out of memory collecting the prefixes, or from the callback that
// reports a prefix nobody has any more): a pipe left behind would be handed to match()'s
// caller after it was freed. The throwing callback stands in for an allocation failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "../../patterns/common/trie.hpp"

namespace {

using zmx::core::pipe;
using zmx::patterns::pipe_trie;

// Pipes are only compared and collected here, never followed: distinct addresses will do.
pipe* fake(int i) { return reinterpret_cast<pipe*>(static_cast<std::uintptr_t>(0x1000 * (i + 1))); }

std::vector<pipe*> matched(const pipe_trie& t, const std::string& data)
{
    std::vector<pipe*> out;
    t.match(data, [&](pipe* p) {
        if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    });
    std::sort(out.begin(), out.end());
    return out;
}

TEST(pipe_trie, rm_pipe_reports_the_prefixes_nobody_has_any_more)
{
    pipe_trie t;
    EXPECT_TRUE(t.add("a", fake(0)));
    EXPECT_TRUE(t.add("ab", fake(0)));
    EXPECT_FALSE(t.add("ab", fake(1))); // a second pipe on "ab": not the first
    EXPECT_TRUE(t.add("", fake(1)));
    std::vector<std::string> gone;
    t.rm_pipe(fake(0), [&](std::string_view p) { gone.emplace_back(p); });
    std::sort(gone.begin(), gone.end());
    EXPECT_EQ((std::vector<std::string>{"a"}), gone); // "ab" still has pipe 1
    EXPECT_EQ((std::vector<pipe*>{fake(1)}), matched(t, "abc"));
}

TEST(pipe_trie, rm_pipe_that_throws_still_takes_the_pipe_out_everywhere)
{
    pipe_trie t;
    const std::vector<std::string> topics = {"", "a", "ab", "abc", "b", "bcd", "x"};
    for (const std::string& s : topics) ASSERT_TRUE(t.add(s, fake(0)));
    ASSERT_FALSE(t.add("ab", fake(1)));
    int reported = 0;
    EXPECT_THROW(t.rm_pipe(fake(0),
                           [&](std::string_view) {
                               if (++reported == 2) throw std::bad_alloc();
                           }),
                 std::bad_alloc);
    EXPECT_EQ(2, reported);
    for (const char* data : {"", "a", "abc", "abcd", "bcd", "xyz"}) {
        const std::vector<pipe*> m = matched(t, data);
        EXPECT_TRUE(std::find(m.begin(), m.end(), fake(0)) == m.end()) << "pipe 0 left at a prefix of '" << data << "'";
    }
    EXPECT_EQ((std::vector<pipe*>{fake(1)}), matched(t, "abc")); // the other pipe keeps its prefix
    EXPECT_TRUE(t.all_pipes().empty());
    // The emptied branches are gone: adding a prefix again is a first subscription.
    EXPECT_TRUE(t.add("bcd", fake(2)));
    EXPECT_TRUE(t.add("a", fake(2)));
    EXPECT_FALSE(t.add("ab", fake(2)));
}

} // namespace
