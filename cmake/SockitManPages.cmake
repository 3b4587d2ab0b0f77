# Man pages for the CLI, generated from its own --help by help2man (Debian:
# help2man), so they cannot drift from the program: sockit(1) and one page per
# command, sockit-COMMAND(1) (scripts/man-pages.sh; it reads the list of commands
# from `sockit --help`). Without help2man the pages are neither built nor installed.
find_program(HELP2MAN_EXECUTABLE help2man)
if(NOT HELP2MAN_EXECUTABLE)
  message(STATUS "help2man not found (Debian: help2man): the sockit man pages are not built")
  return()
endif()

set(SOCKIT_MAN_DIR ${PROJECT_BINARY_DIR}/man)
# sockit.1 stands for the whole set: the script writes every page on each run.
add_custom_command(
  OUTPUT ${SOCKIT_MAN_DIR}/sockit.1
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/man-pages.sh $<TARGET_FILE:sockit_cli> ${SOCKIT_MAN_DIR}
  DEPENDS sockit_cli ${PROJECT_SOURCE_DIR}/scripts/man-pages.sh
  COMMENT "help2man: the sockit man pages"
  VERBATIM)
add_custom_target(sockit_man ALL DEPENDS ${SOCKIT_MAN_DIR}/sockit.1)
