# Writes generated/version.h with the commit the binary is built from. Runs at
# every build; configure_file leaves the header untouched (and nothing is
# recompiled) while the commit stays the same.
# Inputs: SOURCE_DIR, OUTPUT, VERSION.
execute_process(
  COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${SOURCE_DIR}
  OUTPUT_VARIABLE PURCHASES_COMMIT
  OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET)
if(NOT PURCHASES_COMMIT)
  set(PURCHASES_COMMIT "unknown")
endif()
set(PROJECT_VERSION ${VERSION})
configure_file(${SOURCE_DIR}/app/version.h.in ${OUTPUT} @ONLY)
