// Debian's pyzmq (built against libzmq 4.3.4) runs unchanged on zmx's libzmq.so.5
// stand-in: the script checks it really loaded zmx, then drives PAIR, PUSH/PULL, the
// poller, timeouts and option errors over inproc.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace {

struct run_result {
    int status = -1;
    std::string output;
};

run_result run(const std::string& cmd)
{
    run_result r;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (p == nullptr) return r;
    std::array<char, 4096> buf{};
    while (std::fgets(buf.data(), buf.size(), p) != nullptr) r.output += buf.data();
    r.status = ::pclose(p);
    return r;
}

bool have_pyzmq() { return run("/usr/bin/python3 -c 'import zmq'").status == 0; }

} // namespace

TEST(pyzmq_on_zmx, inproc_patterns_through_the_compat_library)
{
    if (!have_pyzmq()) GTEST_SKIP() << "python3-zmq is not installed";
    const std::string cmd = std::string("LD_LIBRARY_PATH=") + ZMX_COMPAT_DIR + " timeout 60 /usr/bin/python3 " +
                            ZMX_TEST_SOURCE_DIR + "/interop/py/inproc_on_zmx.py";
    const run_result r = run(cmd);
    ASSERT_TRUE(WIFEXITED(r.status)) << r.output;
    EXPECT_EQ(WEXITSTATUS(r.status), 0) << r.output;
    EXPECT_NE(r.output.find("ok"), std::string::npos) << r.output;
}

TEST(pyzmq_on_zmx, the_probe_fails_on_the_real_libzmq)
{
    // The same script against the system libzmq must fail at the probe: the test can fail.
    if (!have_pyzmq()) GTEST_SKIP() << "python3-zmq is not installed";
    const run_result r = run(std::string("timeout 60 /usr/bin/python3 ") + ZMX_TEST_SOURCE_DIR +
                             "/interop/py/inproc_on_zmx.py");
    ASSERT_TRUE(WIFEXITED(r.status)) << r.output;
    EXPECT_NE(WEXITSTATUS(r.status), 0) << r.output;
}
