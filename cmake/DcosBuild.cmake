# The one way every dcos target is built.
#
#   dcos_add_library(name SOURCES ... [LIBS ...])     an internal static library
#   dcos_add_plugin(name SOURCES ... [LIBS ...] [OUTPUT_DIR dir] [NO_INSTALL])
#                                                      a plugin (see sdk/cmake/dcosPlugin.cmake)
#   dcos_add_test(name SOURCES ... [LIBS ...] [LABELS ...])
#                                                      a Catch2 test; every TEST_CASE becomes a ctest test

include(${CMAKE_CURRENT_LIST_DIR}/../sdk/cmake/dcosPlugin.cmake)
include(${Catch2_DIR}/Catch.cmake)

set(DCOS_WARNINGS -Wall -Wextra -Wpedantic -Wshadow $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor> -Werror)

# Warnings as errors, and the hardening Debian builds with (fortified libc
# calls, full RELRO), for every target of ours.
function(dcos_warnings target)
  target_compile_options(${target} PRIVATE ${DCOS_WARNINGS} -D_FORTIFY_SOURCE=2 -fstack-protector-strong)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE" OR type STREQUAL "MODULE_LIBRARY" OR type STREQUAL "SHARED_LIBRARY")
    target_link_options(${target} PRIVATE -Wl,-z,relro,-z,now)
  endif()
endfunction()

function(dcos_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_LIBS})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  dcos_warnings(${name})
endfunction()

function(dcos_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE dcos_catch_main ${ARG_LIBS})
  # Where tests find the build's plugins and binaries, and the example configs.
  target_compile_definitions(${name} PRIVATE
    DCOS_TEST_BUILD_DIR="${CMAKE_BINARY_DIR}" DCOS_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  dcos_warnings(${name})
  # One label per test executable: "unit" unless given (integration, netns, qemu...).
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  catch_discover_tests(${name}
    TEST_PREFIX "${name}: "
    PROPERTIES
      LABELS "${labels}")
endfunction()

# dcos_discovered_test_properties(<test target> <PROPERTY value>...)
# Sets properties on every TEST_CASE of a dcos_add_test target. The
# discovered tests exist only when ctest runs, so this writes a script that
# ctest includes after the discovered list, which defines <target>_TESTS
# (see catch_discover_tests in Catch.cmake).
function(dcos_discovered_test_properties target)
  set(script ${CMAKE_CURRENT_BINARY_DIR}/${target}_properties.cmake)
  string(REPLACE ";" " " props "${ARGN}")
  file(WRITE ${script}
    "if(${target}_TESTS)\n"
    "  set_tests_properties(\${${target}_TESTS} PROPERTIES ${props})\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${script})
endfunction()
