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
  # A tree without .git (a container build context, a tarball) may be told
  # its commit: cmake -DPURCHASES_COMMIT=... or the environment.
  if(DEFINED ENV{PURCHASES_COMMIT} AND NOT "$ENV{PURCHASES_COMMIT}" STREQUAL "")
    set(PURCHASES_COMMIT "$ENV{PURCHASES_COMMIT}")
  else()
    set(PURCHASES_COMMIT "unknown")
  endif()
else()
  # A build from a tree with changes nobody committed says so.
  execute_process(
    COMMAND git status --porcelain --untracked-files=no
    WORKING_DIRECTORY ${SOURCE_DIR}
    OUTPUT_VARIABLE PURCHASES_CHANGES
    OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET)
  if(PURCHASES_CHANGES)
    set(PURCHASES_COMMIT "${PURCHASES_COMMIT}-dirty")
  endif()
endif()
set(PROJECT_VERSION ${VERSION})
configure_file(${SOURCE_DIR}/app/version.h.in ${OUTPUT} @ONLY)
