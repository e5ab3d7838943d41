#include "zmx_perf/peer.hpp"

#include "zmx_perf/compat.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <new>
#include <sstream>

extern char** environ;

namespace zmx::perf {

namespace {

std::vector<std::string>& program_args()
{
    static std::vector<std::string> args;
    return args;
}

const char* env(const char* name)
{
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
}

} // namespace

void set_program_args(const std::vector<std::string>& args) { program_args() = args; }

bool is_peer_process() { return *env("ZMX_PERF_PEER") != '\0'; }

peer_process::peer_process()
{
    m_fd = ::memfd_create("zmx-perf-peer", 0); // inherited by the child (no CLOEXEC)
    if (m_fd < 0 || ::ftruncate(m_fd, sizeof(peer_block)) != 0)
        throw setup_failure{"error", "memfd for --cross-process: " + std::string(std::strerror(errno))};
    void* p = ::mmap(nullptr, sizeof(peer_block), PROT_READ | PROT_WRITE, MAP_SHARED, m_fd, 0);
    if (p == MAP_FAILED)
        throw setup_failure{"error", "mmap for --cross-process: " + std::string(std::strerror(errno))};
    m_block = new (p) peer_block;
}

peer_process::~peer_process()
{
    if (m_pid > 0) {
        ::kill(m_pid, SIGKILL);
        int st = 0;
        (void)::waitpid(m_pid, &st, 0);
    }
    if (m_block != nullptr)
        ::munmap(m_block, sizeof(peer_block));
    if (m_fd >= 0)
        ::close(m_fd);
}

void peer_process::start(const char* role, const std::vector<std::string>& endpoints, const zmq_api& api,
                         std::size_t size)
{
    std::string eps;
    for (const std::string& e : endpoints)
        eps += (eps.empty() ? "" : " ") + e;
    std::vector<std::string> vars = {
        std::string("ZMX_PERF_PEER=") + role,
        "ZMX_PERF_ENDPOINTS=" + eps,
        "ZMX_PERF_LIB=" + (api.is_zmx ? std::string("zmx") : api.path),
        "ZMX_PERF_SIZE=" + std::to_string(size),
        "ZMX_PERF_SHARED=" + std::to_string(m_fd),
        "ZMX_PERF_PARENT=" + std::to_string(::getpid()),
    };
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e)
        if (std::strncmp(*e, "ZMX_PERF_", 9) != 0)
            envp.push_back(*e);
    for (std::string& v : vars)
        envp.push_back(v.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = program_args();
    std::string self = "/proc/self/exe";
    std::vector<char*> argv{self.data()};
    for (std::string& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&m_pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data());
    if (rc != 0) {
        m_pid = -1;
        throw setup_failure{"error", "cannot start the peer process: " + std::string(std::strerror(rc))};
    }
}

bool peer_process::wait(std::string& why)
{
    if (m_pid <= 0)
        return true;
    m_block->release.store(1, std::memory_order_release);
    int st = 0;
    const pid_t r = ::waitpid(m_pid, &st, 0);
    m_pid = -1;
    if (r < 0) {
        why = "waitpid: " + std::string(std::strerror(errno));
        return false;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return true;
    why = WIFEXITED(st) ? "the peer process exited with " + std::to_string(WEXITSTATUS(st))
                        : "the peer process died of signal " + std::to_string(WTERMSIG(st));
    return false;
}

int peer_main(const scenario_options& o)
{
    // A peer whose run is gone (the parent killed, or crashed) must not spin on: it dies
    // with its parent (checked after the request, in case the parent went before it).
    (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != static_cast<pid_t>(std::atol(env("ZMX_PERF_PARENT")))) {
        std::fprintf(stderr, "zmx-perf peer: the parent process is gone\n");
        return 2;
    }
    const std::string role = env("ZMX_PERF_PEER");
    const std::string lib = env("ZMX_PERF_LIB");
    const int fd = std::atoi(env("ZMX_PERF_SHARED"));
    const std::size_t size = static_cast<std::size_t>(std::strtoull(env("ZMX_PERF_SIZE"), nullptr, 10));
    std::vector<std::string> endpoints;
    std::istringstream in(env("ZMX_PERF_ENDPOINTS"));
    for (std::string e; in >> e;)
        endpoints.push_back(e);
    void* p = ::mmap(nullptr, sizeof(peer_block), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED || endpoints.empty()) {
        std::fprintf(stderr, "zmx-perf peer: bad environment\n");
        return 2;
    }
    auto& b = *static_cast<peer_block*>(p);
    const zmq_api* api = &zmx_api();
    if (lib != "zmx") {
        std::string error;
        api = load_libzmq(lib, error);
        if (api == nullptr) {
            std::fprintf(stderr, "zmx-perf peer: %s\n", error.c_str());
            return 3;
        }
    }
    try {
        if (role == "echo")
            run_echo_peer(*api, o, size, endpoints[0], b);
        else if (role == "sender")
            run_sender_peer(*api, o, size, endpoints, b);
        else if (role == "publisher")
            run_sender_peer(*api, o, size, endpoints, b, true);
        else
            return 2;
    } catch (const setup_failure& f) {
        std::fprintf(stderr, "zmx-perf peer: %s\n", f.what.c_str());
        return 1;
    }
    b.state.store(1, std::memory_order_release);
    return 0;
}

void wait_for_release(peer_block& b)
{
    // The sockets close with LINGER 0: wait until the parent has everything (or is gone).
    const pid_t parent = ::getppid();
    while (b.release.load(std::memory_order_acquire) == 0 && ::getppid() == parent) {
        const timespec ts{0, 1'000'000};
        ::nanosleep(&ts, nullptr);
    }
}

} // namespace zmx::perf
