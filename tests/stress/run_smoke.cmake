# `hammerlock run' and the key-value subcommands, through the CLI.
#
# Included by tests/stress/CMakeLists.txt, this file registers the tests.
# Run as a script (cmake -DHL=... -DDIR=... -P run_smoke.cmake), it is the
# key-value round trip itself: newfs, put, get, del, scan, stat, a small
# `run --mount --load', stat and check again, and the usage errors.
if(CMAKE_SCRIPT_MODE_FILE)
  # hl_kv(RC rc [OUT regex] ARGS ...): run `hammerlock ARGS', expect exit
  # status rc and, if given, stdout matching regex.
  function(hl_kv)
    cmake_parse_arguments(K "" "RC;OUT" "ARGS" ${ARGN})
    execute_process(COMMAND ${HL} ${K_ARGS} WORKING_DIRECTORY ${DIR}
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    string(REPLACE "\n" "\\n" shown "${out}")
    message(STATUS "hammerlock ${K_ARGS} -> ${rc}: ${shown}")
    if(NOT rc STREQUAL K_RC)
      message(FATAL_ERROR "hammerlock ${K_ARGS}: exit ${rc}, expected "
        "${K_RC}\nstdout: ${out}\nstderr: ${err}")
    endif()
    if(DEFINED K_OUT AND NOT out MATCHES "${K_OUT}")
      message(FATAL_ERROR "hammerlock ${K_ARGS}: stdout does not match "
        "'${K_OUT}':\n${out}\nstderr: ${err}")
    endif()
  endfunction()

  file(REMOVE_RECURSE ${DIR})
  file(MAKE_DIRECTORY ${DIR})
  hl_kv(RC 0 ARGS newfs v0 v1 --size 4M --quiet)
  hl_kv(RC 0 OUT "depth 0, 0 internal \\+ 0 leaf nodes, 0 keys" ARGS
    stat v0 v1)
  hl_kv(RC 1 ARGS get v0 v1 5)
  hl_kv(RC 0 ARGS put v0 v1 5 50)
  hl_kv(RC 0 ARGS put v1 v0 0x10 0xff)
  hl_kv(RC 0 ARGS put v0 v1 7 70)
  hl_kv(RC 0 ARGS put v0 v1 7 71)
  hl_kv(RC 0 OUT "^50\n$" ARGS get v0 v1 5)
  hl_kv(RC 0 OUT "^71\n$" ARGS get v0 v1 7)
  hl_kv(RC 0 OUT "^0x00000000000000ff\n$" ARGS get --hex v0 v1 16)
  hl_kv(RC 0 OUT "^5 50\n7 71\n16 255\n$" ARGS scan v0 v1)
  hl_kv(RC 0 OUT "^16 255\n$" ARGS scan v0 v1 --from 8 --limit 1)
  hl_kv(RC 0 ARGS del v0 v1 5)
  hl_kv(RC 1 ARGS del v0 v1 5)
  hl_kv(RC 1 ARGS get v0 v1 5)
  hl_kv(RC 0 OUT "^7 71\n16 255\n$" ARGS scan v0 v1)
  hl_kv(RC 0 OUT "2 keys.*check: 0 problems" ARGS stat v0 v1)
  # Usage errors: a missing or bad number, a bad option.
  hl_kv(RC 2 ARGS put v0 v1 5)
  hl_kv(RC 2 ARGS get v0 v1 five)
  hl_kv(RC 2 ARGS get v0 v1 18446744073709551616)
  hl_kv(RC 2 ARGS scan v0 v1 --from)
  hl_kv(RC 2 ARGS get v0 v1 5 --limit 3)
  hl_kv(RC 2 ARGS run v0 v1)
  # Many keys on the same mount, then the same checks of its shape.
  hl_kv(RC 0 OUT "result: ok" ARGS run --mount --load --keys 5000
    --seconds 0.5 --mix X,E --quiet --seed 7 v0 v1)
  hl_kv(RC 0 OUT "depth [2-9].*check: 0 problems" ARGS stat v1 v0)
  hl_kv(RC 0 OUT "^[0-9]+ [0-9]+\n[0-9]+ [0-9]+\n$" ARGS
    scan v0 v1 --limit 2)
  hl_kv(RC 0 ARGS check v0 v1 --quiet)
  file(REMOVE_RECURSE ${DIR})
  return()
endif()

# The CI run of `hammerlock run': 20000 keys through a 1 MiB pool, mixes
# A and E for 2 s each, then every check (exit 0 all passed, 1 a
# mismatch, 2 setup).
add_test(NAME run_smoke COMMAND $<TARGET_FILE:hammerlock_cli> run
  --keys 20000 --seconds 2 --threads 4 --mix A,E --pool-mb 1)
add_test(NAME kv_roundtrip COMMAND ${CMAKE_COMMAND}
  -DHL=$<TARGET_FILE:hammerlock_cli>
  -DDIR=${CMAKE_CURRENT_BINARY_DIR}/kv_roundtrip
  -P ${CMAKE_CURRENT_LIST_FILE})
# The workload generator's own checks.
add_executable(ycsb_test ${PROJECT_SOURCE_DIR}/tools/ycsb/ycsb_test.c)
target_link_libraries(ycsb_test PRIVATE ycsb)
target_compile_options(ycsb_test PRIVATE ${HL_WARN})
add_test(NAME ycsb_test COMMAND ycsb_test)
set_tests_properties(run_smoke kv_roundtrip ycsb_test PROPERTIES
  LABELS "stress;tools" TIMEOUT 300)
