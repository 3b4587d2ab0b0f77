# cmake --install: the headers, libsockit.a and libsockit.so, the CMake package
# (find_package(sockit CONFIG)), sockit.pc, and the CLI with its man pages.
# Three components, which are also the three Debian packages (SockitPackage.cmake):
#   Library      libsockit.so.*                       -> libsockit<SOVERSION>
#   Development  headers, libsockit.a, the .so link,
#                the CMake package, sockit.pc          -> libsockit-dev
#   Runtime      the sockit CLI and its man pages      -> sockit
include(CMakePackageConfigHelpers)

set(SOCKIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sockit)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sockit
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT Development
        FILES_MATCHING PATTERN "*.hpp")

install(TARGETS sockit_static EXPORT sockitTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development)
# cmake --install --strip (and CPack's CPACK_STRIP_FILES) strip executables and
# shared libraries but leave archives alone; libsockit.a loses its debug info too.
if(CMAKE_STRIP)
  install(CODE "
    if(CMAKE_INSTALL_DO_STRIP)
      execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug
        \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:sockit_static>\")
    endif()" COMPONENT Development)
endif()
if(TARGET sockit_shared)
  install(TARGETS sockit_shared EXPORT sockitTargets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Library NAMELINK_COMPONENT Development)
endif()
install(EXPORT sockitTargets NAMESPACE sockit:: DESTINATION ${SOCKIT_CMAKE_DIR} COMPONENT Development)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/sockitConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/sockitConfig.cmake
                              INSTALL_DESTINATION ${SOCKIT_CMAKE_DIR})
# Before 1.0 a minor release may change the API, so 0.1 satisfies only 0.1.x.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sockitConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/sockitConfig.cmake ${PROJECT_BINARY_DIR}/sockitConfigVersion.cmake
        DESTINATION ${SOCKIT_CMAKE_DIR} COMPONENT Development)

# sockit.pc finds its prefix relative to itself (${pcfiledir}); absolute
# directories given at configure time are kept as they are.
set(SOCKIT_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH SOCKIT_PC_PREFIX_FROM_PCDIR /prefix/${SOCKIT_PC_DIR} /prefix)
string(REGEX REPLACE "/$" "" SOCKIT_PC_PREFIX_FROM_PCDIR "${SOCKIT_PC_PREFIX_FROM_PCDIR}")
foreach(kind INCLUDEDIR LIBDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(SOCKIT_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(SOCKIT_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
configure_file(${CMAKE_CURRENT_LIST_DIR}/sockit.pc.in ${PROJECT_BINARY_DIR}/sockit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/sockit.pc DESTINATION ${SOCKIT_PC_DIR} COMPONENT Development)

if(TARGET sockit_cli)
  install(TARGETS sockit_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime)
endif()
if(TARGET sockit_man)
  install(DIRECTORY ${SOCKIT_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
          COMPONENT Runtime FILES_MATCHING PATTERN "*.1.gz")
endif()
