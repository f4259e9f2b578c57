# Runs one libFuzzer target for a bounded time (the fuzz_smoke_* ctest tests).
#   FUZZER     the fuzz target executable
#   CORPUS     writable corpus directory in the build tree; emptied first, new inputs land here
#   ARTIFACTS  directory (ending in '/') that receives crash-*, leak-*, timeout-* files
#   SEEDS      '|'-separated seed directories, read only; missing ones are left out
#   SECONDS    -max_total_time
#   DICT       libFuzzer dictionary
foreach(var FUZZER CORPUS ARTIFACTS SECONDS DICT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} must be set")
  endif()
endforeach()

file(REMOVE_RECURSE "${CORPUS}")
file(MAKE_DIRECTORY "${CORPUS}")
file(MAKE_DIRECTORY "${ARTIFACTS}")

set(dirs "${CORPUS}")
string(REPLACE "|" ";" seed_list "${SEEDS}")
foreach(seed IN LISTS seed_list)
  if(IS_DIRECTORY "${seed}")
    list(APPEND dirs "${seed}")
  else()
    message("seed directory not present, left out: ${seed}")
  endif()
endforeach()

set(command "${FUZZER}" "-max_total_time=${SECONDS}" -timeout=10 -rss_limit_mb=2048
    -max_len=65535 -print_final_stats=1 "-dict=${DICT}" "-artifact_prefix=${ARTIFACTS}" ${dirs})
string(REPLACE ";" " " printable "${command}")
message("${printable}")
execute_process(COMMAND ${command} RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${result}); reproducer files are in ${ARTIFACTS}")
endif()
