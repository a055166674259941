# Installs the build into a fresh prefix, then builds the C example out of
# tree against it three ways (find_package with the shared and the static
# library, pkg-config) and runs each on MODEL.
# cmake -DBUILD=... -DSOURCE=... -DWORK=... -DMODEL=... -P install_test.cmake
file(REMOVE_RECURSE ${WORK})
set(prefix ${WORK}/prefix)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix})
foreach(file include/dsv32/dsv32.h lib/libdsv32.so lib/libdsv32.a lib/cmake/dsv32/dsv32Config.cmake
             lib/cmake/dsv32/dsv32ConfigVersion.cmake lib/pkgconfig/dsv32.pc)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "cmake --install did not install ${file}")
  endif()
endforeach()

foreach(variant shared static)
  set(out ${WORK}/find-package-${variant})
  set(static OFF)
  if(variant STREQUAL "static")
    set(static ON)
  endif()
  run(${CMAKE_COMMAND} -S ${SOURCE}/examples/c -B ${out} -DCMAKE_PREFIX_PATH=${prefix}
      -DDSV32_EXAMPLE_STATIC=${static} -DCMAKE_BUILD_TYPE=Release)
  run(${CMAKE_COMMAND} --build ${out})
  run(${out}/dsv32_minimal ${MODEL} 1 2 3)
  if(NOT last_output MATCHES "finished")
    message(FATAL_ERROR "the ${variant} example printed no completion:\n${last_output}")
  endif()
endforeach()

set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
run(pkg-config --cflags --libs dsv32)
string(STRIP "${last_output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run(cc -std=c11 ${SOURCE}/examples/c/minimal.c ${flags} -Wl,-rpath,${prefix}/lib
    -o ${WORK}/minimal-pkg-config)
run(${WORK}/minimal-pkg-config ${MODEL} 4 5 6)
if(NOT last_output MATCHES "finished")
  message(FATAL_ERROR "the pkg-config example printed no completion:\n${last_output}")
endif()
message(STATUS "installed, and built out of tree with find_package (shared, static) and pkg-config")
