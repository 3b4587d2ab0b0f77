# cpack -G DEB (in the build directory; scripts/test-deb.sh builds, unpacks and
# tests them): three Debian packages, one per install component (SockitInstall.cmake)
#   sockit                 the CLI and its man pages
#   libsockit<SOVERSION>   libsockit.so.<SOVERSION>
#   libsockit-dev          headers, libsockit.a, the CMake package, sockit.pc
# dpkg-shlibdeps (dpkg-dev) works out the run-time dependencies from the binaries;
# the -dev package names liburing-dev itself, since the CMake package and sockit.pc
# look liburing up when a consumer is configured.
set(CPACK_PACKAGE_NAME sockit)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "C++23 socket and IPC toolkit for Linux: libsockit and the sockit CLI")
# No public address exists yet: .invalid (RFC 2606) can never reach a stranger.
set(CPACK_PACKAGE_CONTACT "sockit maintainers <maintainers@sockit.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # the RelWithDebInfo build's debug info would make libsockit.a ~25 MB
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL Runtime Development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME sockit)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "Command-line tool for Unix, TCP and UDP sockets in the spirit of nc and socat\n"
    "sockit connects to, listens on, echoes and relays over Unix (path and abstract),\n"
    "TCP and UDP sockets, probes addresses and passes file descriptors.")

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libsockit-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "liburing-dev")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION
    "Development files for libsockit, a C++23 socket and IPC library\n"
    "Headers, the static library, the CMake package (find_package(sockit)) and\n"
    "sockit.pc for pkg-config.")

if(TARGET sockit_shared)
  list(APPEND CPACK_COMPONENTS_ALL Library)
  set(CPACK_DEBIAN_LIBRARY_PACKAGE_NAME libsockit${SOCKIT_SOVERSION})
  set(CPACK_DEBIAN_LIBRARY_PACKAGE_SECTION libs)
  set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)  # a shlibs file, so packages built on it depend on it right
  set(CPACK_COMPONENT_LIBRARY_DESCRIPTION
      "C++23 socket and IPC library for Linux (shared library)\n"
      "Unix, TCP and UDP sockets with deadlines, an event loop over epoll or\n"
      "io_uring, connections and servers.")
  # The -dev package's libsockit.so link points at this exact build.
  string(APPEND CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
         ", libsockit${SOCKIT_SOVERSION} (= ${PROJECT_VERSION})")
endif()

include(CPack)
