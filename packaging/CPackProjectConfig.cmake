# Read by cpack (CPACK_PROJECT_CONFIG_FILE) before each generator runs.

# CPackRPM up to at least CMake 3.25 probes whether rpmbuild supports weak
# dependencies by running ${RPM_EXECUTABLE} --suggests, but never sets
# RPM_EXECUTABLE, so the probe always fails and Suggests: is dropped with a
# warning. Give it the rpm next to rpmbuild.
if(CPACK_GENERATOR STREQUAL "RPM" AND NOT RPM_EXECUTABLE)
  find_program(RPM_EXECUTABLE rpm)
endif()
