# ctest fixture: extracts the rendered PROTOS INVITEs (TARBALL) into DEST/invites.
# Usage: cmake -DTARBALL=<invites-rendered.tar.xz> -DDEST=<dir> -P extract_protos.cmake
if(NOT DEFINED TARBALL OR NOT DEFINED DEST)
  message(FATAL_ERROR "TARBALL and DEST must be set")
endif()
file(REMOVE_RECURSE "${DEST}")
if(NOT EXISTS "${TARBALL}")
  # Matched by the test's SKIP_REGULAR_EXPRESSION.
  message("PROTOS corpus not present: ${TARBALL}")
  return()
endif()
file(MAKE_DIRECTORY "${DEST}")
execute_process(COMMAND "${CMAKE_COMMAND}" -E tar xf "${TARBALL}"
                WORKING_DIRECTORY "${DEST}"
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "extracting ${TARBALL} failed: ${result}")
endif()
file(GLOB cases "${DEST}/invites/*.sip")
list(LENGTH cases count)
message("extracted ${count} PROTOS cases into ${DEST}/invites")
