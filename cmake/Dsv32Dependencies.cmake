# Third-party dependencies, all from Debian packages through their own CMake
# config files (or CMake's find modules where a package ships none).
find_package(Threads REQUIRED)
find_package(hwy CONFIG REQUIRED)
find_package(zstd CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(simdjson CONFIG REQUIRED)
find_package(Eigen3 CONFIG REQUIRED)
# PCRE2 ships no CMake config on Debian 12; its pkg-config file is the way in.
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)

if(TARGET zstd::libzstd_shared)
  set(DSV32_ZSTD zstd::libzstd_shared)
else()
  set(DSV32_ZSTD zstd::libzstd_static)
endif()

add_library(dsv32_deps INTERFACE)
target_link_libraries(dsv32_deps INTERFACE
  hwy::hwy hwy::hwy_contrib ${DSV32_ZSTD} nlohmann_json::nlohmann_json
  simdjson::simdjson
  Eigen3::Eigen PkgConfig::PCRE2 ${BLAS_LIBRARIES} Threads::Threads)

# MPI (Debian's OpenMPI) is optional: without it the MPI backend of the
# device mesh is left out and its tests are skipped.
option(DSV32_WITH_MPI "Build the MPI backend of the device mesh when MPI is found" ON)
set(DSV32_HAVE_MPI OFF)
if(DSV32_WITH_MPI)
  find_package(MPI COMPONENTS C)
  if(MPI_C_FOUND)
    set(DSV32_HAVE_MPI ON)
    target_link_libraries(dsv32_deps INTERFACE MPI::MPI_C)
  else()
    message(STATUS "MPI not found: the MPI backend and its tests are left out")
  endif()
endif()
