// Integration tests: ZMQ_XPUB_MANUAL and ZMQ_XPUB_MANUAL_LAST_VALUE, zmx to zmx over
// inproc://, tcp:// and ipc://.
//
// Manual mode: an XPUB applies no subscription itself. Each subscription and cancel goes
// to the application as a message; ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE on the XPUB apply to
// the subscriber whose subscription message the application received last. LAST_VALUE
// adds: the first message sent after receiving a subscription goes only to that
// subscriber.
//
// How the tests know a message was NOT delivered without waiting for silence: they send
// it, then a marker that must arrive; messages on one connection keep their order, so if
// the marker comes first the earlier message was not sent to that subscriber.
//
// Validated against libzmq 4.3.4 (Debian): every test passes there too
// (g++ -DZMQ_BUILD_DRAFT_API -I tests/support this_file -lzmq -lgtest -lgtest_main).
#include "pubsub_util.hpp"

#include <string>
#include <vector>

namespace {

using namespace zmx_test;

class XpubManual : public pubsub_fixture {
 protected:
  // LAST_VALUE set before bind or after it (before the subscribers connect).
  void last_value_goes_only_to_the_new_subscriber(bool after_bind) {
    ZMX_OPEN(xpub, ZMQ_XPUB);
    if (!after_bind) {
      ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_MANUAL_LAST_VALUE, 1));
    }
    ZMX_OPEN(sub1, ZMQ_SUB);
    ZMX_OPEN(sub2, ZMQ_SUB);
    const auto ep = bind(xpub);
    if (after_bind) {
      ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_MANUAL_LAST_VALUE, 1));
    }
    ZMX_CONNECT(sub1, ep);
    ZMX_CONNECT(sub2, ep);
    ASSERT_EQ(0, subscribe(sub1, "T"));
    ASSERT_TRUE(next_is(xpub, sub_msg("T")));
    ASSERT_EQ(0, subscribe(xpub, "T"));
    ASSERT_GE(send_str(xpub, "T=1 for sub1"), 0);  // the last value, to the new subscriber
    EXPECT_TRUE(next_is(sub1, "T=1 for sub1"));
    ASSERT_GE(send_str(xpub, "T=2"), 0);  // later messages go to every matching subscriber
    EXPECT_TRUE(next_is(sub1, "T=2"));
    // sub2 arrives: the application sends it the current value; sub1 must not get it again.
    ASSERT_EQ(0, subscribe(sub2, "T"));
    ASSERT_TRUE(next_is(xpub, sub_msg("T")));
    ASSERT_EQ(0, subscribe(xpub, "T"));
    ASSERT_GE(send_str(xpub, "T=2 again"), 0);
    ASSERT_GE(send_str(xpub, "T=3"), 0);
    EXPECT_TRUE(next_is(sub2, "T=2 again"));
    EXPECT_TRUE(next_is(sub2, "T=3"));
    EXPECT_TRUE(next_is(sub1, "T=3"));  // not "T=2 again"
  }
};

TEST(XpubManualRules, SubscribeOnXpubNeedsManualMode) {
  context ctx;
  sock xpub(ctx, ZMQ_XPUB);
  ASSERT_TRUE(xpub);
  ZMX_EXPECT_ERRNO(EINVAL, subscribe(xpub, "A"));  // not manual
  ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_MANUAL, 1));
  EXPECT_EQ(0, subscribe(xpub, "A"));  // manual, no subscription received yet: a no-op (libzmq too)
  EXPECT_EQ(0, unsubscribe(xpub, "A"));
  ZMX_EXPECT_ERRNO(EINVAL, set_int(xpub, ZMQ_XPUB_MANUAL, -1));
  sock sub(ctx, ZMQ_SUB);
  ASSERT_TRUE(sub);
  ZMX_EXPECT_ERRNO(EINVAL, set_int(sub, ZMQ_XPUB_MANUAL, 1));  // publishers only
}

TEST_P(XpubManual, SubscriptionsApplyOnlyWhenTheApplicationSaysSo) {
  ZMX_OPEN(xpub, ZMQ_XPUB);
  ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_MANUAL, 1));
  ZMX_OPEN(sub, ZMQ_SUB);
  const auto ep = bind(xpub);
  ZMX_CONNECT(sub, ep);
  ASSERT_EQ(0, subscribe(sub, "A"));
  ASSERT_TRUE(next_is(xpub, sub_msg("A")));
  // Not applied yet: this one is not for the subscriber.
  ASSERT_GE(send_str(xpub, "A-unapplied"), 0);
  ASSERT_EQ(0, subscribe(xpub, "A"));
  ASSERT_GE(send_str(xpub, "A-applied"), 0);
  EXPECT_TRUE(next_is(sub, "A-applied"));
}

TEST_P(XpubManual, TheApplicationMayRewriteASubscription) {
  ZMX_OPEN(xpub, ZMQ_XPUB);
  ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_MANUAL, 1));
  ZMX_OPEN(sub, ZMQ_SUB);
  const auto ep = bind(xpub);
  ZMX_CONNECT(sub, ep);
  ASSERT_EQ(0, subscribe(sub, ""));  // the SUB takes everything the XPUB sends it
  ASSERT_TRUE(next_is(xpub, sub_msg("")));
  ASSERT_EQ(0, subscribe(xpub, "B"));  // ... but the XPUB sends it only B
  ASSERT_GE(send_str(xpub, "A1"), 0);
  ASSERT_GE(send_str(xpub, "B1"), 0);
  EXPECT_TRUE(next_is(sub, "B1"));
}

TEST_P(XpubManual, EverySubscriptionAndCancelReachesTheApplication) {
  ZMX_OPEN(xpub, ZMQ_XPUB);
  ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_MANUAL, 1));
  ZMX_OPEN(sub1, ZMQ_SUB);
  ZMX_OPEN(sub2, ZMQ_SUB);
  const auto ep = bind(xpub);
  ZMX_CONNECT(sub1, ep);
  ZMX_CONNECT(sub2, ep);
  ASSERT_EQ(0, subscribe(sub1, "A"));
  ASSERT_TRUE(next_is(xpub, sub_msg("A")));
  ASSERT_EQ(0, subscribe(xpub, "A"));  // for sub1
  // A second subscriber with the same topic is reported too (not only new prefixes).
  ASSERT_EQ(0, subscribe(sub2, "A"));
  ASSERT_TRUE(next_is(xpub, sub_msg("A")));
  ASSERT_EQ(0, subscribe(xpub, "A"));  // for sub2
  ASSERT_GE(send_str(xpub, "A1"), 0);
  EXPECT_TRUE(next_is(sub1, "A1"));
  EXPECT_TRUE(next_is(sub2, "A1"));
  // sub1 cancels: the application hears it and removes sub1's subscription.
  ASSERT_EQ(0, unsubscribe(sub1, "A"));
  ASSERT_TRUE(next_is(xpub, cancel_msg("A")));
  ASSERT_EQ(0, unsubscribe(xpub, "A"));
  ASSERT_EQ(0, subscribe(sub1, "Z"));
  ASSERT_TRUE(next_is(xpub, sub_msg("Z")));
  ASSERT_EQ(0, subscribe(xpub, "Z"));  // sub1 again, so a marker can reach it
  ASSERT_GE(send_str(xpub, "A2"), 0);
  ASSERT_GE(send_str(xpub, "Z-marker"), 0);
  EXPECT_TRUE(next_is(sub2, "A2"));
  EXPECT_TRUE(next_is(sub1, "Z-marker"));  // A2 did not go to sub1
}

TEST_P(XpubManual, ASubscriberThatLeavesIsReportedAsCancels) {
  ZMX_OPEN(xpub, ZMQ_XPUB);
  ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_MANUAL, 1));
  const auto ep = bind(xpub);
  {
    ZMX_OPEN(sub, ZMQ_SUB);
    ZMX_CONNECT(sub, ep);
    ASSERT_EQ(0, subscribe(sub, "gone"));
    ASSERT_TRUE(next_is(xpub, sub_msg("gone")));
    ASSERT_EQ(0, subscribe(xpub, "gone"));
  }
  EXPECT_TRUE(next_is(xpub, cancel_msg("gone")));
  // The subscriber is forgotten: SUBSCRIBE now applies to nobody (a no-op), and
  // publishing to nobody is fine.
  EXPECT_EQ(0, subscribe(xpub, "gone"));
  ASSERT_GE(send_str(xpub, "gone1"), 0);
}

TEST_P(XpubManual, LastValueGoesOnlyToTheNewSubscriber) {
  last_value_goes_only_to_the_new_subscriber(false);
}

TEST_P(XpubManual, LastValueThatDoesNotMatchTheNewSubscriberGoesNowhere) {
  ZMX_OPEN(xpub, ZMQ_XPUB);
  ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_MANUAL_LAST_VALUE, 1));
  ZMX_OPEN(sub1, ZMQ_SUB);
  ZMX_OPEN(sub2, ZMQ_SUB);
  const auto ep = bind(xpub);
  ZMX_CONNECT(sub1, ep);
  ASSERT_EQ(0, subscribe(sub1, "X"));
  ASSERT_TRUE(next_is(xpub, sub_msg("X")));
  ASSERT_EQ(0, subscribe(xpub, "X"));
  ZMX_CONNECT(sub2, ep);
  ASSERT_EQ(0, subscribe(sub2, "Y"));
  ASSERT_TRUE(next_is(xpub, sub_msg("Y")));
  ASSERT_EQ(0, subscribe(xpub, "Y"));
  ASSERT_GE(send_str(xpub, "X-lost"), 0);  // for sub2 only, which does not match
  ASSERT_GE(send_str(xpub, "X-kept"), 0);
  EXPECT_TRUE(next_is(sub1, "X-kept"));
}

// The options set after bind: subscribers that connect afterwards are served as they say.
// (Over shm a PUB that bound without them writes through one broadcast log for every
// subscriber; a last value for one subscriber, or its welcome, reached nobody there.)
TEST_P(XpubManual, LastValueSetAfterBindGoesOnlyToTheNewSubscriber) {
  last_value_goes_only_to_the_new_subscriber(true);
}

TEST_P(XpubManual, WelcomeSetAfterBindReachesEachNewSubscriber) {
  ZMX_OPEN(xpub, ZMQ_XPUB);
  ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_VERBOSE, 1));  // each SUB's "W" is reported: it has arrived
  const auto ep = bind(xpub);
  const std::string welcome = "W-hello";
  ASSERT_EQ(0, zmq_setsockopt(xpub, ZMQ_XPUB_WELCOME_MSG, welcome.data(), welcome.size()));
  std::vector<sock> subs;  // kept open: a SUB that leaves is reported as a cancel
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(::testing::Message() << "subscriber " << i);
    subs.push_back(make(ZMQ_SUB));
    void* sub = subs.back().get();
    ASSERT_NE(nullptr, sub);
    ASSERT_EQ(0, subscribe(sub, "W"));
    ZMX_CONNECT(sub, ep);
    EXPECT_TRUE(next_is(xpub, sub_msg("W")));
    EXPECT_TRUE(next_is(sub, welcome));
  }
}

// The options set after the subscribers connected. (Over shm those subscribers read the
// PUB's broadcast log, which every one of them reads: what is for some of them only is
// written there for each alone.)
class XpubManualLate : public XpubManual {
 protected:
  // Binds, connects two SUBs, each subscribed to `topic`, and waits until the XPUB
  // (verbose, not yet manual) has heard both: both are attached.
  void connect_two(void* xpub, void* sub1, void* sub2, const std::string& topic) {
    ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_VERBOSE, 1));
    const auto ep = bind(xpub);
    ZMX_CONNECT(sub1, ep);
    ZMX_CONNECT(sub2, ep);
    ASSERT_EQ(0, subscribe(sub1, topic));
    ASSERT_TRUE(next_is(xpub, sub_msg(topic)));
    ASSERT_EQ(0, subscribe(sub2, topic));
    ASSERT_TRUE(next_is(xpub, sub_msg(topic)));
  }
  void multipart_for_each_alone(bool direct);
};

TEST_P(XpubManualLate, ManualModeSetLateSendsOnlyWhatTheApplicationApplied) {
  ZMX_OPEN(xpub, ZMQ_XPUB);
  ZMX_OPEN(sub1, ZMQ_SUB);
  ZMX_OPEN(sub2, ZMQ_SUB);
  connect_two(xpub, sub1, sub2, "A");  // applied for both (not manual yet)
  ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_MANUAL, 1));
  // Both ask for B; the application grants it to sub1 only.
  ASSERT_EQ(0, subscribe(sub2, "B"));
  ASSERT_TRUE(next_is(xpub, sub_msg("B")));  // from sub2: not applied
  ASSERT_EQ(0, subscribe(sub1, "B"));
  ASSERT_TRUE(next_is(xpub, sub_msg("B")));  // from sub1
  ASSERT_EQ(0, subscribe(xpub, "B"));
  ASSERT_GE(send_str(xpub, "B1"), 0);
  ASSERT_GE(send_str(xpub, "A-marker"), 0);
  EXPECT_TRUE(next_is(sub1, "B1"));
  EXPECT_TRUE(next_is(sub1, "A-marker"));
  EXPECT_TRUE(next_is(sub2, "A-marker"));  // not B1, which its own filter would pass
}

TEST_P(XpubManualLate, LastValueSetLateGoesOnlyToTheSubscriberJustHeard) {
  ZMX_OPEN(xpub, ZMQ_XPUB);
  ZMX_OPEN(sub1, ZMQ_SUB);
  ZMX_OPEN(sub2, ZMQ_SUB);
  connect_two(xpub, sub1, sub2, "T");
  ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_MANUAL_LAST_VALUE, 1));
  ASSERT_EQ(0, subscribe(sub2, "U"));
  ASSERT_TRUE(next_is(xpub, sub_msg("U")));
  ASSERT_EQ(0, subscribe(xpub, "U"));
  ASSERT_GE(send_str(xpub, "T=current"), 0);  // the last value: sub2 alone
  ASSERT_GE(send_str(xpub, "T=next"), 0);     // every subscriber of T
  EXPECT_TRUE(next_is(sub2, "T=current"));
  EXPECT_TRUE(next_is(sub2, "T=next"));
  EXPECT_TRUE(next_is(sub1, "T=next"));  // not "T=current"
}

// Direct mode too: there a one-frame message may go straight into the log
// (write-through), and must not overtake frames the socket has written to the log's pipe
// for another subscriber and not flushed yet.
TEST_P(XpubManualLate, MultipartMessagesForEachSubscriberAloneArriveWhole) {
  multipart_for_each_alone(false);
}

TEST_P(XpubManualLate, MultipartMessagesForEachSubscriberAloneArriveWholeInDirectMode) {
#ifndef ZMX_DIRECT
  GTEST_SKIP() << "ZMX_DIRECT is a zmx extension";
#else
  multipart_for_each_alone(true);
#endif
}

void XpubManualLate::multipart_for_each_alone(bool direct) {
  ZMX_OPEN(xpub, ZMQ_XPUB);
  ZMX_OPEN(sub1, ZMQ_SUB);
  ZMX_OPEN(sub2, ZMQ_SUB);
#ifdef ZMX_DIRECT
  ASSERT_EQ(0, set_int(xpub, ZMX_DIRECT, direct ? 1 : 0));  // the publisher's engine on this thread
#else
  (void)direct;
#endif
  connect_two(xpub, sub1, sub2, "M");
  ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_MANUAL, 1));
  // Both hold M, applied before manual mode; both ask for N, granted to sub1 only.
  ASSERT_EQ(0, subscribe(sub2, "N"));
  ASSERT_TRUE(next_is(xpub, sub_msg("N")));  // from sub2: not applied
  ASSERT_EQ(0, subscribe(sub1, "N"));
  ASSERT_TRUE(next_is(xpub, sub_msg("N")));
  ASSERT_EQ(0, subscribe(xpub, "N"));
  for (int i = 0; i < 3; ++i) {
    // Each frame goes to both, one after the other: neither may see the other's frames.
    ASSERT_GE(zmq_send(xpub, "M-head", 6, ZMQ_SNDMORE), 0);
    ASSERT_GE(zmq_send(xpub, "middle", 6, ZMQ_SNDMORE), 0);
    ASSERT_GE(zmq_send(xpub, "tail", 4, 0), 0);
    ASSERT_GE(zmq_send(xpub, "N-only", 6, ZMQ_SNDMORE), 0);
    ASSERT_GE(zmq_send(xpub, "tail", 4, 0), 0);
  }
  using frames = std::vector<std::string>;
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(::testing::Message() << "round " << i);
    EXPECT_EQ((frames{"M-head", "middle", "tail"}), recv_multipart(sub1).value_or(frames{}));
    EXPECT_EQ((frames{"N-only", "tail"}), recv_multipart(sub1).value_or(frames{}));
    EXPECT_EQ((frames{"M-head", "middle", "tail"}), recv_multipart(sub2).value_or(frames{}));
  }
  ASSERT_GE(send_str(xpub, "M-marker"), 0);
  EXPECT_TRUE(next_is(sub2, "M-marker"));  // no N-only for sub2
}

INSTANTIATE_TEST_SUITE_P(Transports, XpubManualLate,
                         ::testing::Values(transport::inproc, transport::tcp, transport::ipc, transport::shm), param_name);

INSTANTIATE_TEST_SUITE_P(Transports, XpubManual,
                         ::testing::Values(transport::inproc, transport::tcp, transport::ipc, transport::shm), param_name);

}  // namespace
