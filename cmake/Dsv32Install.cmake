# cmake --install: the shared and static libraries, the header, a CMake
# package (find_package(dsv32)) and a pkg-config file.
include(CMakePackageConfigHelpers)
set(DSV32_CMAKE_DIR lib/cmake/dsv32)

install(TARGETS dsv32 dsv32_static dsv32_deps EXPORT dsv32Targets
        LIBRARY DESTINATION lib ARCHIVE DESTINATION lib INCLUDES DESTINATION include)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/dsv32 DESTINATION include)
install(EXPORT dsv32Targets NAMESPACE dsv32:: DESTINATION ${DSV32_CMAKE_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/dsv32Config.cmake.in
                              ${PROJECT_BINARY_DIR}/dsv32Config.cmake
                              INSTALL_DESTINATION ${DSV32_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/dsv32ConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/dsv32Config.cmake ${PROJECT_BINARY_DIR}/dsv32ConfigVersion.cmake
        DESTINATION ${DSV32_CMAKE_DIR})

configure_file(${PROJECT_SOURCE_DIR}/cmake/dsv32.pc.in ${PROJECT_BINARY_DIR}/dsv32.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/dsv32.pc DESTINATION lib/pkgconfig)
