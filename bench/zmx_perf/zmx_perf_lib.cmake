# zmx_perf_lib: the parts of zmx-perf that do not touch zmq (command-line parser, latency
# histogram, results, JSON), unit-tested by tests/unit/zmx_perf_*_test.cpp. Included from
# bench/zmx_perf/CMakeLists.txt and from tests/CMakeLists.txt (tests come first and also
# run when ZMX_BUILD_BENCH is OFF, as in the asan preset); the guard defines it once.
if(NOT TARGET zmx_perf_lib)
  add_library(zmx_perf_lib STATIC
    ${CMAKE_CURRENT_LIST_DIR}/histogram.cpp
    ${CMAKE_CURRENT_LIST_DIR}/json.cpp
    ${CMAKE_CURRENT_LIST_DIR}/options.cpp
    ${CMAKE_CURRENT_LIST_DIR}/results.cpp)
  # Headers are included as "zmx_perf/<name>.hpp".
  target_include_directories(zmx_perf_lib PUBLIC ${CMAKE_CURRENT_LIST_DIR}/..)
  target_link_libraries(zmx_perf_lib PRIVATE zmx_flags)
endif()
