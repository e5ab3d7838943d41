// Fuzz target: the ZMTP 3.1 connection handshake as server and as client for NULL, PLAIN
// and CURVE (zmtp::handshake, curve::client / server), then the traffic after it (frame
// decoder, CURVE MESSAGE boxes, commands). The input format is in fuzz_support.hpp; the
// corpus generator (corpus_gen.cpp) makes inputs with valid CURVE boxes for the fixed
// keys, which replay because randomness is deterministic per input.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    zmx::fuzz::install_rng();
    (void)zmx::fuzz::fixed_keys();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    (void)zmx::fuzz::run_handshake(data, size);
    return 0;
}
