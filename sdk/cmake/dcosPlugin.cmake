# dcos_add_plugin(<name> SOURCES <src>... [LIBS <lib>...] [OUTPUT_DIR <dir>] [NO_INSTALL])
#
# Builds the dcos plugin <name>.so: a MODULE library with no "lib" prefix,
# hidden visibility (only dcos_plugin_entry_v1 is exported, by the SDK's
# macros) and -Wl,--no-undefined, so a missing symbol fails the build instead
# of the dlopen on a node. Role plugins are named role-<role>. Installed into
# DCOS_PLUGIN_INSTALL_DIR (default lib/dcos/plugins) unless NO_INSTALL.
#
# Used for the plugins of dcos itself and, through find_package(dcos), for
# plugins built out of tree.
if(NOT DEFINED DCOS_PLUGIN_INSTALL_DIR)
  set(DCOS_PLUGIN_INSTALL_DIR "lib/dcos/plugins")
endif()

function(dcos_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIR" "SOURCES;LIBS" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE dcos::sdk ${ARG_LIBS})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  if(ARG_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIR}")
  endif()
  if(COMMAND dcos_warnings)
    dcos_warnings(${name})
  endif()
  if(NOT ARG_NO_INSTALL)
    install(TARGETS ${name} LIBRARY DESTINATION "${DCOS_PLUGIN_INSTALL_DIR}" COMPONENT runtime)
  endif()
endfunction()
