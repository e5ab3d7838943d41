// accept_filter's address matching (core/accept_filter.hpp): CIDR masks at byte and bit
// boundaries, /0, IPv6 ranges, IPv4 ranges against v4-mapped IPv6 peers, and the family
// mismatches that must not match.
#include "accept_filter.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace {

using zmx::core::address_matches;
using zmx::core::tcp_accept_filter;

tcp_accept_filter filter(const char* text, int mask) {
  tcp_accept_filter f;
  if (inet_pton(AF_INET, text, f.addr.data()) == 1) {
    f.family = AF_INET;
  } else {
    EXPECT_EQ(1, inet_pton(AF_INET6, text, f.addr.data())) << text;
    f.family = AF_INET6;
  }
  f.mask = mask;
  return f;
}

bool matches(const tcp_accept_filter& f, const char* peer) {
  unsigned char a[16] = {};
  if (inet_pton(AF_INET, peer, a) == 1) return address_matches(f, AF_INET, a);
  EXPECT_EQ(1, inet_pton(AF_INET6, peer, a)) << peer;
  return address_matches(f, AF_INET6, a);
}

TEST(AcceptFilterMatch, Ipv4Masks) {
  EXPECT_TRUE(matches(filter("10.1.2.3", 32), "10.1.2.3"));
  EXPECT_FALSE(matches(filter("10.1.2.3", 32), "10.1.2.4"));
  EXPECT_TRUE(matches(filter("10.0.0.0", 8), "10.255.1.1"));
  EXPECT_FALSE(matches(filter("10.0.0.0", 8), "11.0.0.1"));
  EXPECT_TRUE(matches(filter("192.168.4.0", 22), "192.168.7.255"));  // bit boundary inside a byte
  EXPECT_FALSE(matches(filter("192.168.4.0", 22), "192.168.8.0"));
  EXPECT_TRUE(matches(filter("0.0.0.0", 0), "203.0.113.9"));  // /0: everyone
}

TEST(AcceptFilterMatch, Ipv6AndMappedPeers) {
  EXPECT_TRUE(matches(filter("2001:db8::", 32), "2001:db8:ffff::1"));
  EXPECT_FALSE(matches(filter("2001:db8::", 32), "2001:db9::1"));
  EXPECT_TRUE(matches(filter("::1", 128), "::1"));
  // An IPv4 range covers the same addresses seen through an IPv6 socket.
  EXPECT_TRUE(matches(filter("127.0.0.0", 8), "::ffff:127.0.0.1"));
  EXPECT_FALSE(matches(filter("127.0.0.0", 8), "::ffff:128.0.0.1"));
  // Different families do not match otherwise.
  EXPECT_FALSE(matches(filter("::1", 128), "127.0.0.1"));
  EXPECT_FALSE(matches(filter("127.0.0.0", 8), "::1"));
  EXPECT_FALSE(matches(filter("0.0.0.0", 0), "2001:db8::1"));
}

}  // namespace
